# ruff: noqa
"""Asks for 50 GB at once, through Python and through torch."""

import torch


def attack_python():
    return len(bytearray(50 * 1024**3))


def attack_torch():
    return torch.ones(50 * 1024**3, dtype=torch.uint8).sum()
