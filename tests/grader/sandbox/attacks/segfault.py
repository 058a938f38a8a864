# ruff: noqa
"""Crashes the interpreter by reading an address near 0 through ctypes. (Address 0 itself
would not do: string_at(0, n) reads nothing and returns n fresh bytes.)"""

import ctypes


def attack():
    return ctypes.cast(8, ctypes.POINTER(ctypes.c_int64))[0]
