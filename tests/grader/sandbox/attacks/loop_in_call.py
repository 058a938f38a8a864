# ruff: noqa
"""Never returns from a call: burns CPU forever."""


def attack():
    n = 0
    while True:
        n += 1
