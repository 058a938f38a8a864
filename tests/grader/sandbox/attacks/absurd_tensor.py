# ruff: noqa
"""Returns a tensor far larger than any answer should be."""

import torch


def attack(megabytes):
    return torch.ones(megabytes * 1024 * 1024, dtype=torch.uint8)
