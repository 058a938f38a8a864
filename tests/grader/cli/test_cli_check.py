"""`grader check`: the candidate's self-check runs the grader's checks, names each one that
fails, shows no grade, and exits 1 when a check fails.

Two small submissions keep it quick: each defines only a causal-mask function (one correct,
one that lets every position see the next token), so only the mask's checks run."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Runner

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

MASK_OK = '''import torch


def generate_square_subsequent_mask(size: int) -> torch.Tensor:
    """Boolean keep mask: position i sees positions 0..i."""
    return torch.tril(torch.ones(size, size, dtype=torch.bool))
'''
MASK_LEAKY = MASK_OK.replace("dtype=torch.bool))", "dtype=torch.bool), diagonal=1)")


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("check")
    (folder / "mask_ok.py").write_text(MASK_OK)
    (folder / "mask_leaky.py").write_text(MASK_LEAKY)
    return folder


@pytest.fixture(scope="module")
def checked(grader: Runner, answers: Path):
    """Both answers checked in one run, named by a glob, with the default output folder."""
    return grader(
        "check",
        str(answers / "mask_*.py"),
        "--assignment",
        "transformer_lm",
        "--jobs",
        "2",
        cwd=answers,
    )


def test_a_failing_check_exits_1_and_is_named(checked) -> None:
    assert checked.returncode == 1, checked.stderr
    report = checked.stdout[checked.stdout.index("mask_leaky: ") :]
    assert "FAIL causal_mask." in report.split("mask_ok:")[0]
    assert "not a causal mask" in report


def test_a_clean_answer_is_said_to_pass(checked) -> None:
    assert "mask_ok: 0 problem(s), every check passed" in checked.stdout
    assert "not attempted (nothing to check): attention, multi_head_attention" in checked.stdout


def test_check_shows_no_grade(checked) -> None:
    assert "overall" not in checked.stdout and "overall" not in checked.stderr


def test_reports_go_to_the_default_folder(checked, answers: Path) -> None:
    for name in ("mask_ok", "mask_leaky"):
        assert (answers / ".grader-check" / name / "summary.md").is_file()


def test_a_clean_answer_alone_exits_0(checked, grader: Runner, answers: Path) -> None:
    run = grader(
        "check", str(answers / "mask_ok.py"), "--assignment", "transformer_lm", cwd=answers
    )
    assert run.returncode == 0, run.stdout + run.stderr  # its result from the run above is reused
    assert "already graded" in run.stderr
