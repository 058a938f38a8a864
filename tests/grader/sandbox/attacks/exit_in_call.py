# ruff: noqa
"""Stops the worker from inside a graded function, hoping an early clean exit reads as a pass."""

import sys


def attack():
    sys.exit(0)
