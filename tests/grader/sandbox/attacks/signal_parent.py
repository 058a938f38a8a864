# ruff: noqa
"""Tries to kill the grader: os.kill on the grader's pid and on its own parent, and libc kill()
through ctypes (which the audit hook cannot see)."""

import ctypes
import os
import signal


def attack(grader_pid):
    outcomes = {}
    for name, pid in (("grader", grader_pid), ("parent", os.getppid())):
        try:
            os.kill(pid, signal.SIGKILL)
            outcomes[name] = "sent"
        except Exception as exc:
            outcomes[name] = type(exc).__name__
    libc = ctypes.CDLL(None, use_errno=True)
    outcomes["libc"] = libc.kill(grader_pid, 0)  # 0: only tests whether the pid is reachable
    outcomes["libc_errno"] = ctypes.get_errno()
    return outcomes
