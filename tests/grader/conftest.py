"""Fixtures shared by the grader's tests: submissions built from the reference, and the seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from reference_submissions import POSITIONAL_REFERENCE, reference_as_submission

PROJECT_DIR = Path(__file__).resolve().parents[2]
SEEDS_DIR = PROJECT_DIR / ".." / "shared" / "seeds"
"""The real submissions (../shared/seeds): read, never copied into the project."""


@pytest.fixture(scope="session")
def positional_reference_source() -> str:
    """The reference's answer to the positional-encoding test, as a single submission."""
    return reference_as_submission(*POSITIONAL_REFERENCE)


@pytest.fixture(scope="session")
def seed_000() -> Path:
    """The real Markdown answer to the positional-encoding test."""
    found = sorted(SEEDS_DIR.glob("000_*.txt"))
    if not found:
        pytest.skip(f"seed 000 (the positional-encoding answer) not found in {SEEDS_DIR.resolve()}")
    return found[0]
