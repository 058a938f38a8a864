"""The wild corpus graded end to end: complete answers to the transformer test written in the
styles of public implementations (nanoGPT, fairseq, Hugging Face, the Annotated Transformer,
d2l, the PyTorch tutorial, einops, x-transformers, minGPT, Bloom's baddbmm, Karpathy's
lecture, a Colab notebook), each correct or carrying one named bug.

`manifest.toml` says what a careful reviewer concludes about each file: the status of each
task, the checks a bug must fail and words the failing message must use to name it. The fast
tests check that the manifest and the files agree with each other without running any
candidate code; the slow ones grade files in one command-line run, as a user would, and compare
every verdict with the manifest:

- `SLICE` (part of ``make test``): the few files that exercise the grader's fixes for code
  in the wild (projection layouts, inline scaling, dropout on the scores, a mask off by one,
  zero_grad after backward, small initialisation), graded together in one run;
- the whole corpus (marker ``corpus``, ``make test-corpus``): every file, about 40 minutes
  on two busy cores, too long for ``make test``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from catalogue import known_checks

from grader import assignment
from grader.intake.load import load_submission, safe_name

WILD_DIR = Path(__file__).resolve().parent
SUBMISSIONS_DIR = WILD_DIR / "submissions"
MANIFEST: dict[str, dict[str, Any]] = tomllib.loads(
    (WILD_DIR / "manifest.toml").read_text(encoding="utf-8")
)
NAMES = sorted(MANIFEST)
BUGGY = sorted(name for name, spec in MANIFEST.items() if spec["verdict"] == "bug")
GRADER = Path(sys.executable).with_name("grader")
"""The venv's console script: the corpus is graded the way a user grades a folder."""
GRADE_TIMEOUT_S = 3600
"""One run grades every file, two at a time (~30-50 s each on two idle cores)."""
SLICE = (
    "annotated_mask_sees_next",
    "bloom_zero_grad_after_backward",
    "fairseq_mha_scaling_head_dim",
    "hf_gpt2_dropout_on_scores",
    "mingpt_newgelu",
)
"""The files `make test` grades: between them they cover each fix the corpus led to. The
mask off by one (named, stand-in of its (1, L, L) shape, the grader's loop trained with the
stand-in); Bloom's per-head fused projection and zero_grad between backward and step; a
module that divides its scores by head_dim; dropout on the scores before an additive mask;
minGPT's normal(0, 0.02) initialisation (positions judged on redrawn weights, the handout's
SGD judged by the unigram plateau). Their other layouts (one module per head, a fused
key/value layer) are in tests/grader/checks/test_projections.py and the catalogue."""
FORMATS = {"ipynb", "py", "py-percent", "markdown", "notebook-text"}
MIN_ENTRIES, MIN_CORRECT = 15, 10
"""What the corpus must hold (issue 13): at least 15 answers, at least 10 of them correct."""
HEADER_CHARS = 2000
"""Where each file's header (its first comment or markdown cell) must cite its source."""
MESSAGE_CHARS = 200
"""How much of each failing check's message an assertion shows."""


def task_ids() -> set[str]:
    return {task.id for task in assignment.get("transformer_lm").tasks}


# --- fast: the manifest and the files agree, nothing is run ----------------------------


def test_every_file_has_one_entry_and_every_entry_a_file() -> None:
    files = {p.name for p in SUBMISSIONS_DIR.iterdir() if p.is_file()}
    assert files == {spec["file"] for spec in MANIFEST.values()}
    assert len({safe_name(SUBMISSIONS_DIR / f) for f in files}) == len(files), "output names clash"
    for name, spec in MANIFEST.items():
        assert safe_name(SUBMISSIONS_DIR / spec["file"]) == name, "entry named after its file"


def test_the_corpus_is_large_enough_and_in_every_format() -> None:
    correct = [n for n, spec in MANIFEST.items() if spec["verdict"] == "correct"]
    assert len(MANIFEST) >= MIN_ENTRIES
    assert len(correct) >= MIN_CORRECT
    assert {spec["format"] for spec in MANIFEST.values()} == FORMATS


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_well_formed(name: str) -> None:
    spec, checks = MANIFEST[name], known_checks()
    assert spec["format"] in FORMATS
    assert spec["source"].strip()
    assert set(spec["tasks"]) == task_ids()
    assert set(spec["tasks"].values()) <= {"pass", "fail"}
    failing_tasks = {task for task, status in spec["tasks"].items() if status == "fail"}
    named = [*spec.get("must_fail", []), *spec.get("must_fail_any", [])]
    if spec["verdict"] == "correct":
        assert not failing_tasks and not named and "bug" not in spec
        return
    assert spec["verdict"] == "bug" and spec["bug"].strip()
    assert failing_tasks, "a bug fails at least one task"
    assert named, "a bug names the check that catches it"
    assert set(named) <= checks, f"unknown checks: {set(named) - checks}"
    assert {check.split(".")[0] for check in named} <= failing_tasks
    assert spec["message_words"]


@pytest.mark.parametrize("name", NAMES)
def test_intake_reads_the_declared_format_and_the_header_cites_the_source(name: str) -> None:
    spec = MANIFEST[name]
    submission = load_submission(SUBMISSIONS_DIR / spec["file"])
    assert submission.format == spec["format"]
    assert not submission.errors
    header = (SUBMISSIONS_DIR / spec["file"]).read_text(encoding="utf-8")[:HEADER_CHARS]
    assert "Adapted from" in header
    verdict = "Verdict: correct" if spec["verdict"] == "correct" else "Verdict: one bug"
    assert verdict in header


# --- slow: one command-line run over the folder, every verdict against the manifest ------


def grade(paths: list[Path], names: list[str], out: Path) -> dict[str, dict[str, Any]]:
    """result.json of each of ``names``, from one `grader grade` run over ``paths``."""
    done = subprocess.run(
        [str(GRADER), "grade", *map(str, paths), "-a", "transformer_lm"]
        + ["--jobs", "2", "--format", "json", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=GRADE_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {
        name: json.loads((out / name / "result.json").read_text(encoding="utf-8")) for name in names
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every file, from one `grader grade` run over the folder."""
    return grade([SUBMISSIONS_DIR], NAMES, tmp_path_factory.mktemp("wild"))


@pytest.fixture(scope="module")
def graded_slice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The files of `SLICE`, from one `grader grade` run."""
    paths = [SUBMISSIONS_DIR / MANIFEST[name]["file"] for name in SLICE]
    return grade(paths, list(SLICE), tmp_path_factory.mktemp("wild-slice"))


def test_the_slice_is_part_of_the_corpus_with_correct_and_buggy_files() -> None:
    assert set(SLICE) <= set(NAMES)
    verdicts = {MANIFEST[name]["verdict"] for name in SLICE}
    assert verdicts == {"correct", "bug"}


def checks_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for task in result["tasks"].values() for check in task["checks"]}


def failing(result: dict[str, Any]) -> dict[str, str]:
    """Every failing or erroring check, with the start of its message."""
    return {
        name: f"{check['status']}: {(check['message'] or '')[:MESSAGE_CHARS]}"
        for name, check in checks_of(result).items()
        if check["status"] in ("fail", "error")
    }


def assert_reviewers_verdicts(name: str, result: dict[str, Any]) -> None:
    """The code tasks' statuses are the manifest's (written answers are graded as tasks of
    their own, `question:*`, and are not the subject of this corpus)."""
    code_tasks = task_ids()
    got = {t: task["status"] for t, task in result["tasks"].items() if t in code_tasks}
    assert got == MANIFEST[name]["tasks"], json.dumps(failing(result), indent=1)


@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.parametrize("name", SLICE)
def test_slice_task_verdicts_are_the_reviewers(
    name: str, graded_slice: dict[str, dict[str, Any]]
) -> None:
    assert_reviewers_verdicts(name, graded_slice[name])


@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.parametrize("name", [n for n in SLICE if n in BUGGY])
def test_slice_bug_is_caught_by_its_check_and_named(
    name: str, graded_slice: dict[str, dict[str, Any]]
) -> None:
    assert_bug_caught_and_named(name, graded_slice[name])


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.parametrize("name", NAMES)
def test_task_verdicts_are_the_reviewers(name: str, graded: dict[str, dict[str, Any]]) -> None:
    assert_reviewers_verdicts(name, graded[name])


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.parametrize("name", BUGGY)
def test_the_bug_is_caught_by_its_check_and_named(
    name: str, graded: dict[str, dict[str, Any]]
) -> None:
    assert_bug_caught_and_named(name, graded[name])


def assert_bug_caught_and_named(name: str, result: dict[str, Any]) -> None:
    spec = MANIFEST[name]
    seen = checks_of(result)
    status = {check: found["status"] for check, found in seen.items()}
    for check in spec.get("must_fail", []):
        assert status.get(check) in ("fail", "error"), f"{check}: {status.get(check, 'absent')}"
    if spec.get("must_fail_any"):
        assert any(status.get(c) in ("fail", "error") for c in spec["must_fail_any"]), {
            c: status.get(c, "absent") for c in spec["must_fail_any"]
        }
    bug_tasks = {task for task, verdict in spec["tasks"].items() if verdict == "fail"}
    messages = [
        (check["message"] or "").lower()
        for check in seen.values()
        if check["status"] in ("fail", "error") and check["name"].split(".")[0] in bug_tasks
    ]
    words = spec["message_words"]
    assert any(word.lower() in message for word in words for message in messages), (
        f"no failing check of {sorted(bug_tasks)} says any of {words}: "
        + json.dumps(failing(result), indent=1)
    )
