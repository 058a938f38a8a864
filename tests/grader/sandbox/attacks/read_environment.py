# ruff: noqa
"""Looks for secrets in the environment and the identity it runs as."""

import os


def attack():
    return {
        "environ": dict(os.environ),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": list(os.getgroups()),
        "cwd": os.getcwd(),
    }
