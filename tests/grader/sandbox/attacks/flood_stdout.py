# ruff: noqa
"""Floods stdout and stderr with tens of megabytes, hoping to exhaust the grader's memory."""

import os
import sys


def attack(megabytes):
    line = "x" * 1023 + "\n"
    for _ in range(megabytes * 1024):
        sys.stdout.write(line)
    os.write(2, b"y" * (megabytes * 1024 * 1024))
    return "done"
