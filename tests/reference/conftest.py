"""Fixtures of the reference tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Run each test on one intra-op thread, restoring the setting afterwards.

    The models here are small: on a machine whose few cores are shared, more threads only add
    synchronisation (measured: the positional task trains 4x slower on two threads than on
    one).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
