# ruff: noqa
"""Leaves the process at once with status 0, skipping every handler (pytest's weak spot)."""

import os


def attack():
    os._exit(0)
