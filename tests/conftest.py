"""Fixtures shared by the whole test suite: where the shared data lives (../shared)."""

from __future__ import annotations

import os
import shutil
import tempfile
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


_SESSION_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """One reference-side cache for the whole session (`grader.reference_cache`), unless
    GRADER_CACHE_DIR names one: the grader processes the tests start share it, so the reference
    side is paid once, and every test that grades after the first reads cached values. Never
    the user's own cache."""
    if "GRADER_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="grader-test-cache-")
        _SESSION_CACHE.append(folder)
        os.environ["GRADER_CACHE_DIR"] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _SESSION_CACHE:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``corpus`` (whole corpora graded from the command line, tens of minutes)
    run only when the marker expression asks for them (``make test-corpus``: ``-m corpus``);
    any other run, ``make test`` and a run by path included, deselects them."""
    if "corpus" in (config.getoption("markexpr") or "").replace("not corpus", ""):
        return
    kept = [item for item in items if item.get_closest_marker("corpus") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
