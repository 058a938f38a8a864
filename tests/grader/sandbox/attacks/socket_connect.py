# ruff: noqa
"""Phones home: opens a TCP connection to a server on the host's loopback."""

import socket


def attack(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"stolen")
    return "connected"
