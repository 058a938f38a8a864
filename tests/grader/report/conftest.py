"""Shared fixtures of the report tests: the two sample results and their rendered outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.report import write_batch, write_reports
from grader.result import SubmissionResult

from .fixtures import broken_result, graded_result


@pytest.fixture(scope="session")
def graded() -> SubmissionResult:
    return graded_result()


@pytest.fixture(scope="session")
def broken() -> SubmissionResult:
    return broken_result()


@pytest.fixture(scope="session")
def batch_dir(
    tmp_path_factory: pytest.TempPathFactory, graded: SubmissionResult, broken: SubmissionResult
) -> Path:
    """A batch output folder as the CLI writes it: one folder per submission, then the
    summary over them."""
    out = tmp_path_factory.mktemp("batch")
    pairs = []
    for result in (graded, broken):
        folder = out / result.submission.name
        write_reports(result, folder)
        pairs.append((result, folder))
    write_batch(pairs, out)
    return out
