"""The console script's help, its usage errors (exit status 2, before anything is graded or
written) and the verbs that grade nothing: `assignments` and `handout`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_support import SUBMISSIONS, Runner

VERBS = ("grade", "check", "report", "summary", "sign", "verify", "assignments", "handout")
TYPICAL = str(SUBMISSIONS / "typical.py")


@pytest.mark.parametrize("verb", VERBS)
def test_help_of_every_verb_explains_it_with_an_example(grader: Runner, verb: str) -> None:
    run = grader(verb, "--help")
    assert run.returncode == 0
    assert "example" in run.stdout
    assert re.search(rf"^\s+grader {verb}\b", run.stdout, re.MULTILINE), (
        f"no example line of `grader {verb}`"
    )


def test_help_without_a_verb_lists_the_verbs(grader: Runner) -> None:
    run = grader("--help")
    assert run.returncode == 0
    for verb in VERBS:
        assert verb in run.stdout


def test_grade_help_states_the_exit_statuses(grader: Runner) -> None:
    text = " ".join(grader("grade", "--help").stdout.split())
    assert "0 graded, 1 below --fail-under, 2 bad input" in text


USAGE_ERRORS = [
    # (arguments after `grade`, what the message must say)
    (["no/such/file.ipynb"], "no such file or folder"),
    (["--assignment", "no_such_test"], "unknown assignment 'no_such_test'"),
    (["--map", "attention"], "--map expects task=symbol"),
    (["--map", "attn=my_attention"], "has no task 'attn'"),
    (["--splits", "valid"], "--splits expects train:valid"),
    (["--format", "html,pdf"], "--format: unknown pdf"),
    (["--jobs", "0"], "must be at least 1"),
    (["--fail-under", "150"], "must be between 0 and 100"),
    (["--budget", "huge"], "invalid choice: 'huge'"),
    (["--data-dir", "no/such/folder"], "is not a folder"),
]


@pytest.mark.parametrize(("extra", "message"), USAGE_ERRORS, ids=[m for _, m in USAGE_ERRORS])
def test_a_usage_error_exits_2_and_writes_nothing(
    grader: Runner, tmp_path: Path, extra: list[str], message: str
) -> None:
    extra = list(extra)  # the parameter list is shared between runs of the test
    paths = [extra.pop(0)] if not extra[0].startswith("-") else [TYPICAL]
    args = ["grade", *paths, "--out", str(tmp_path / "out"), *extra]
    if "--assignment" not in extra:
        args += ["--assignment", "transformer_lm"]
    run = grader(*args)
    assert run.returncode == 2
    assert message in run.stderr
    assert not (tmp_path / "out").exists()


def test_a_data_dir_without_the_requested_splits_is_a_usage_error(
    grader: Runner, tmp_path: Path
) -> None:
    (tmp_path / "ptb.valid.txt").write_text("a b c\n")
    run = grader(
        "grade",
        TYPICAL,
        "-a",
        "transformer_lm",
        "--out",
        str(tmp_path / "out"),
        "--data-dir",
        str(tmp_path),
        "--splits",
        "valid:test",
    )
    assert run.returncode == 2
    assert "has no ptb.test.txt" in run.stderr


def test_a_folder_without_submissions_is_a_usage_error(grader: Runner, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a submission\n")
    run = grader("grade", str(tmp_path), "-a", "transformer_lm", "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert "no submission files found" in run.stderr


def test_no_verb_is_a_usage_error(grader: Runner) -> None:
    assert grader().returncode == 2


def test_assignments_lists_each_test_with_its_tasks(grader: Runner) -> None:
    run = grader("assignments")
    assert run.returncode == 0
    assert re.search(r"^transformer_lm: ", run.stdout, re.MULTILINE)
    for task in ("attention", "multi_head_attention", "encoder_block", "causal_mask", "training"):
        assert re.search(rf"^\s+task {task}\s+kind \w+\s+weight", run.stdout, re.MULTILINE), task
    assert "question:attention_cost" in run.stdout


def test_handout_writes_the_notebook_and_the_python_file(grader: Runner, tmp_path: Path) -> None:
    run = grader("handout", "transformer_lm", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "transformer_lm.ipynb").is_file()
    assert (tmp_path / "transformer_lm.py").is_file()
    assert str(tmp_path / "transformer_lm.ipynb") in run.stdout


def test_handout_of_an_unknown_assignment_is_a_usage_error(grader: Runner, tmp_path: Path) -> None:
    run = grader("handout", "no_such_test", "--out", str(tmp_path))
    assert run.returncode == 2
    assert "unknown assignment" in run.stderr
