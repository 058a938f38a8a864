# ruff: noqa
"""Prints replies shaped exactly like the protocol's on stdout, for every plausible request
number, hoping the grader takes one as the answer to its call."""

import json
import struct
import sys


def forged_frame(seq):
    meta = {"seq": seq, "status": "ok", "error": None, "audit": [], "audit_dropped": 0}
    header = json.dumps({"meta": meta, "payload": "forged", "buffers": []}).encode()
    return b"GRW1" + struct.pack("<QI", len(header), len(header)) + header


def attack():
    for seq in range(1, 200):
        sys.stdout.buffer.write(forged_frame(seq))
    sys.stdout.flush()
    return "honest"
