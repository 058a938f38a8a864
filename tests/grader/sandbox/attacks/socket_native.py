# ruff: noqa
"""Phones home without Python's socket module (invisible to the audit hook): socket() and
connect() from libc through ctypes. Only the network namespace stops it."""

import ctypes
import struct


def attack(port):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM
    if fd < 0:
        return {"socket": fd, "errno": ctypes.get_errno()}
    # struct sockaddr_in: family, port (network order), 127.0.0.1, padding
    address = struct.pack("=H", 2) + struct.pack("!H", port) + bytes([127, 0, 0, 1]) + bytes(8)
    result = libc.connect(fd, address, len(address))
    return {"socket": fd, "connect": result, "errno": ctypes.get_errno()}
