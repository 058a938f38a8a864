"""Fixtures shared by the whole test suite: where the shared data lives (../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DIR = Path(__file__).resolve().parents[1] / ".." / "shared"
"""The shared folder beside the project: real submissions (seeds) and Penn Treebank splits."""


@pytest.fixture(scope="session")
def ptb_dir() -> Path:
    """../shared/data/ptb, holding ptb.valid.txt and ptb.test.txt (there is no train split)."""
    path = SHARED_DIR / "data" / "ptb"
    if not (path / "ptb.valid.txt").is_file() or not (path / "ptb.test.txt").is_file():
        pytest.skip(f"Penn Treebank valid/test splits not found in {path.resolve()}")
    return path
