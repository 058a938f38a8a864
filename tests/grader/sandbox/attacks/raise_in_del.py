# ruff: noqa
"""Objects that raise when they are freed, and modules that raise in __repr__."""


class Grenade:
    def __del__(self):
        raise RuntimeError("boom from __del__")

    def __repr__(self):
        raise RuntimeError("boom from __repr__")


def attack():
    return Grenade()
