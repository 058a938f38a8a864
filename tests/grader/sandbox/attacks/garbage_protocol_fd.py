# ruff: noqa
"""Finds the reply pipe (its fd is in the worker's command line) and writes garbage into it."""

import json
import os
import sys


def _reply_fd():
    return json.loads(sys.argv[1])["reply_fd"]


def attack_garbage():
    os.write(_reply_fd(), b"\x00\xffnot a frame at all" * 100)
    return "sent"


def attack_huge_header():
    # A well-formed prefix announcing a 1 TB message: must be refused before any allocation.
    import struct

    os.write(_reply_fd(), b"GRW1" + struct.pack("<QI", 1 << 40, 100))
    return "sent"
