"""The catalogue ranked the way a careful interviewer ranks it (issue 17's calibration).

Every catalogue entry is base.py with one difference, so the quality of the code around that
difference is the same everywhere: what separates the grades is whether the work is correct.
Graded at the quick budget (the training run included) from the command line, in one run:

- every entry whose own code raises a critical flag (reads the future, fails or crashes
  training, leaves a task missing) scores at least `GAP` points below every entry whose five
  tasks all pass;
- every entry with a failing code task scores below every entry whose tasks all pass: clean
  code that does not work cannot outrank working code;
- a bug whose ``CATCHES`` names a causality check is flagged as reading the future.

`SLICE` (part of ``make test``) is the base, two correct styles and one bug of each kind of
consequence; the whole catalogue (marker ``corpus``, ``make test-corpus``) is about 25 minutes
on two cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.calibration import critical_flags
from grader.config import CalibrationConfig
from grader.report.files import load_result
from grader.result import SubmissionResult

from . import Entry, base_entry, entries

GAP = 15.0
"""Issue 17: a critical failure scores at least this many points below every working one."""
GRADER = Path(sys.executable).with_name("grader")
GRADE_TIMEOUT_S = 3600
ALL = [base_entry(), *entries("correct"), *entries("buggy")]
BY_NAME = {entry.name: entry for entry in ALL}
SLICE = ("base", "gelu_block", "mask_inverted", "zero_grad_before_step", "residual_missing")
"""Working code in two styles; a mask whose convention its attention reads the other way (the
model as written sees the future); a loop that zeroes the gradients before the step (nothing
trains); an encoder block without its residual (wrong, not fatal). Five gradings: the slice
is sized to keep `make test` under 30 minutes."""
FUTURE = frozenset(CalibrationConfig().future_checks)


def grade(chosen: list[Entry], folder: Path) -> dict[str, SubmissionResult]:
    """Each entry handed in as ``<name>.py`` and graded in one `grader grade` run."""
    inbox = folder / "in"
    inbox.mkdir()
    for entry in chosen:
        (inbox / f"{entry.name}.py").write_text(entry.source, encoding="utf-8")
    out = folder / "out"
    done = subprocess.run(
        [str(GRADER), "grade", str(inbox), "-a", "transformer_lm"]
        + ["--jobs", "2", "--format", "json", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=GRADE_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {entry.name: load_result(out / entry.name / "result.json") for entry in chosen}


def working(result: SubmissionResult) -> bool:
    return all(task.status == "pass" for task in result.code_tasks.values())


def critical(result: SubmissionResult) -> bool:
    return any(flag.caps for flag in critical_flags(result))


def assert_ranked_like_an_interviewer(graded: dict[str, SubmissionResult]) -> None:
    grades = {name: result.overall for name, result in graded.items()}
    good = {name: grades[name] for name, result in graded.items() if working(result)}
    broken = {name: grades[name] for name, result in graded.items() if not working(result)}
    fatal = {name: grades[name] for name, result in graded.items() if critical(result)}
    assert good and fatal, grades
    # Correct styles and base.py are the working ones; every bug fails a task of its own.
    for name, entry in BY_NAME.items():
        if name in graded:
            assert working(graded[name]) == (not entry.catches), (name, grades[name])
    assert max(fatal.values()) + GAP <= min(good.values()), (fatal, good)
    assert max(broken.values()) < min(good.values()), (broken, good)
    for name, result in graded.items():
        if FUTURE & {check.split(".", 1)[1] for check in BY_NAME[name].catches}:
            ids = {flag.id for flag in critical_flags(result)}
            assert "reads_future" in ids, (name, ids)


@pytest.fixture(scope="module")
def graded_slice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    return grade([BY_NAME[name] for name in SLICE], tmp_path_factory.mktemp("ordering-slice"))


def test_the_slice_holds_working_fatal_and_wrong_entries() -> None:
    assert set(SLICE) <= set(BY_NAME)
    kinds = {bool(BY_NAME[name].catches) for name in SLICE}
    assert kinds == {True, False}
    assert any(FUTURE & {c.split(".", 1)[1] for c in BY_NAME[n].catches} for n in SLICE)
    assert any(any(c.startswith("training.") for c in BY_NAME[n].catches) for n in SLICE)


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_slice_ranks_like_an_interviewer(graded_slice: dict[str, SubmissionResult]) -> None:
    assert_ranked_like_an_interviewer(graded_slice)


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.sandbox
def test_the_whole_catalogue_ranks_like_an_interviewer(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert_ranked_like_an_interviewer(grade(ALL, tmp_path_factory.mktemp("ordering-all")))
