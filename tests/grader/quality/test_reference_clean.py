"""The reference implementation is written as we want candidates to write: the static rules
must find nothing to optimise or reuse in it, and its readability must be near full marks.

Every module implementing something a candidate writes is held to that (the command-line
demo, the data loading and the PyTorch twins are ours, not a candidate's): attention, masks,
the encoder block, positional encodings, the model, the training loop, and the answer to
the positional-encoding question.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.quality import analyse, readability_score

REFERENCE = Path(__file__).resolve().parents[3] / "reference"
MODULES = ["attention", "masks", "encoder", "positional", "model", "train", "positional_task"]
MIN_READABILITY = 95.0


@pytest.mark.parametrize("module", MODULES)
def test_reference_is_clean_as_a_candidate_submission(module: str) -> None:
    path = REFERENCE / f"{module}.py"
    assert path.is_file(), f"reference/{module}.py is missing"
    report = analyse(path.read_text(encoding="utf-8"))  # every line counts as the candidate's
    assert not report.by_criterion("optimisation"), module
    assert not report.by_criterion("reusability"), module
    score, evidence = readability_score(report)
    assert score >= MIN_READABILITY, evidence
    assert report.metrics["docstring_coverage_pct"] == 100.0, module
