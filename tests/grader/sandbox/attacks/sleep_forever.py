# ruff: noqa
"""Never returns from a call, without using any CPU (a CPU limit alone would not catch it)."""

import time


def attack():
    time.sleep(10**9)
