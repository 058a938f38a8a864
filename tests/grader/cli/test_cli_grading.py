"""`grader grade` end to end on a real batch: reports, options, bad submissions, resume after an
interruption, --fail-under, the progress display, and the `report` and `summary` verbs that
read its output. The batch is graded once (the `batch` fixture in conftest.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_support import BAD_SUBMISSIONS, GRADER, MAPPED_SYMBOL, ROOT, GradedBatch, Runner

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

REPORT_FILES = ("result.json", "scorecard.html", "junit.xml", "summary.md")
NAMES = sorted([Path(n).stem for n in BAD_SUBMISSIONS] + ["mapped_typical", "untouched_handout"])
GRADED = ["mapped_typical", "untouched_handout"]
"""The rest could not be graded at all: not gradable, listed apart (grader.gradable)."""


def result(batch: GradedBatch, name: str) -> dict:
    return json.loads(batch.result_path(name).read_text(encoding="utf-8"))


def test_the_resumed_run_grades_every_submission_of_the_folder(batch: GradedBatch) -> None:
    assert batch.resumed.returncode == 0, batch.resumed.stderr
    assert sorted(p.name for p in batch.out.iterdir() if p.is_dir()) == NAMES
    for name in NAMES:
        for file in REPORT_FILES:  # every --format asked for, for every submission
            assert (batch.out / name / file).is_file(), f"{name}/{file} missing"
    summary = json.loads((batch.out / "summary.json").read_text())
    assert summary["count"] == len(NAMES)
    assert (batch.out / "index.html").is_file()
    for name in NAMES:  # the closing table on stdout: one line per submission
        assert any(line.startswith(name) for line in batch.resumed.stdout.splitlines()), name


@pytest.mark.parametrize("file_name", sorted(BAD_SUBMISSIONS))
def test_a_bad_submission_is_a_result_that_says_why(batch: GradedBatch, file_name: str) -> None:
    name, (_, why) = Path(file_name).stem, BAD_SUBMISSIONS[file_name]
    graded = result(batch, name)
    assert all(task["status"] in ("missing", "error") for task in graded["tasks"].values())
    assert (graded["status"], graded["overall"]) == ("not_gradable", None)
    assert graded["reason"]  # one sentence saying why, shown apart from the ranking
    scorecard = (batch.out / name / "scorecard.html").read_text(encoding="utf-8")
    assert why in " ".join(graded["errors"]) or why in scorecard, (
        f"{name}: the reason '{why}' is not reported"
    )


def test_hanging_code_is_cut_off_by_the_wall_clock_limit(batch: GradedBatch) -> None:
    errors = " ".join(result(batch, "hang")["errors"])
    assert "killed after" in errors and "wall-clock" in errors


def test_map_names_the_candidates_symbol(batch: GradedBatch) -> None:
    attention = result(batch, "mapped_typical")["tasks"]["attention"]
    assert attention["symbol"] == MAPPED_SYMBOL
    assert attention["resolved_by"] == "override"
    assert attention["status"] == "pass"  # the renamed function is typical.py's correct attention


def test_seed_budget_and_corpus_are_recorded(batch: GradedBatch) -> None:
    environment = result(batch, "mapped_typical")["environment"]
    assert environment["seed"] == 3
    assert environment["budget"] == "quick"
    if not batch.ptb:
        assert environment["corpus"] == "synthetic"


def test_data_dir_and_splits_choose_the_training_corpus(batch: GradedBatch) -> None:
    if not batch.ptb:
        pytest.skip("../shared/data/ptb is absent: the batch trained on the synthetic corpus")
    graded = result(batch, "mapped_typical")
    assert graded["environment"]["corpus"].startswith("ptb")
    assert graded["environment"]["splits"] == ["valid", "test"]
    assert graded["training"]["splits"] == ["valid", "test"]


def test_an_interrupted_run_keeps_its_results_and_ends_its_processes(batch: GradedBatch) -> None:
    assert batch.interrupted.returncode == 130, batch.interrupted.stderr
    assert "interrupted" in batch.interrupted.stderr and "rerun resumes" in batch.interrupted.stderr
    assert batch.done_after_interrupt, "no result was written before the interruption"
    assert len(batch.done_after_interrupt) < len(NAMES), (
        "the run finished before it was interrupted"
    )
    assert batch.survivors == [], "processes of the interrupted run outlived it"


PIPELINE_STAGES = (
    "reading",
    "static analysis",
    "starting the sandbox",
    "loading in the sandbox",
    "checking attention",
    "training: your model on the grader's loop",
    "training: the reference model's baseline",
    "timing against the reference",
)


def test_every_result_records_where_its_time_went(batch: GradedBatch) -> None:
    environment = result(batch, "mapped_typical")["environment"]
    stages = environment["stages"]
    for stage in ("process start", *PIPELINE_STAGES, "writing reports"):
        assert stage in stages, f"{stage!r} missing from {sorted(stages)}"
    assert all(seconds >= 0 for seconds in stages.values())
    # The pipeline's stages follow one another: together they are its time, to rounding.
    within = sum(
        s for name, s in stages.items() if name not in ("process start", "writing reports")
    )
    assert within == pytest.approx(environment["grading_seconds"], abs=0.5)
    assert environment["stages_background"]["starting the sandbox"] > 0  # alongside the review
    scorecard = (batch.out / "mapped_typical" / "scorecard.html").read_text(encoding="utf-8")
    assert "Graded in <strong>" in scorecard and "the longest stages:" in scorecard
    longest = max(stages, key=lambda name: stages[name] if name != "writing reports" else -1)
    assert longest.replace("'", "&#39;") in scorecard


def test_profile_prints_every_stage_of_every_submission(batch: GradedBatch) -> None:
    out = batch.resumed.stdout
    assert "mapped_typical: " in out and " stages" in out
    profile = out[out.index("mapped_typical: ") :]
    for stage in PIPELINE_STAGES:
        assert stage in profile
    assert "(alongside) starting the sandbox" in profile


def test_the_rerun_resumes_without_regrading_what_was_done(batch: GradedBatch) -> None:
    log = batch.resumed.stderr
    for name, mtime in batch.done_after_interrupt.items():
        assert batch.result_path(name).stat().st_mtime_ns == mtime, f"{name} was graded again"
        assert f"{name}: already graded" in log
        assert f"{name}: grading" not in log
    for name in set(NAMES) - set(batch.done_after_interrupt):
        assert f"{name}: grading" in log


def test_without_a_terminal_progress_is_one_plain_line_per_event(batch: GradedBatch) -> None:
    lines = batch.resumed.stderr.splitlines()
    assert "\x1b[" not in batch.resumed.stderr  # no cursor movement when stderr is a pipe or a file
    finished = [line for line in lines if line.startswith(f"[{len(NAMES)}/{len(NAMES)}]")]
    assert len(finished) == 1
    for name in NAMES:
        assert sum(line.split("] ", 1)[-1].startswith(f"{name}: ") for line in lines) in (1, 2)


def test_on_a_terminal_progress_is_redrawn_in_place(batch: GradedBatch) -> None:
    leader, follower = os.openpty()
    with subprocess.Popen(
        [str(GRADER), *batch.args], stdout=subprocess.PIPE, stderr=follower, cwd=ROOT
    ) as run:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the grader closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        run.wait(timeout=120)
    os.close(leader)
    assert run.returncode == 0
    text = shown.decode(errors="replace")
    assert "\x1b[" in text and "\x1b[2K" in text  # moves up and clears lines
    assert f"{len(NAMES)}/{len(NAMES)} done" in text
    assert "already graded" in text


@pytest.mark.parametrize(("threshold", "status"), [("0", 0), ("100", 1)])
def test_fail_under_sets_the_exit_status(
    batch: GradedBatch, grader: Runner, threshold: str, status: int
) -> None:
    run = grader(*batch.args, "--fail-under", threshold)  # every result is reused: no regrading
    assert run.returncode == status, run.stderr
    if status:
        for name in GRADED:
            assert f"{name}: overall" in run.stderr and "below --fail-under 100" in run.stderr
        for name in set(NAMES) - set(GRADED):  # no grade cannot pass a gate
            assert f"{name}: not gradable, below --fail-under 100" in run.stderr


def test_report_re_renders_from_result_json(
    batch: GradedBatch, grader: Runner, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(batch.out / "mapped_typical", tmp_path / "mapped_typical"))
    source = (copy / "result.json").read_bytes()
    for file in REPORT_FILES[1:]:
        (copy / file).unlink()
    run = grader("report", str(copy / "result.json"))
    assert run.returncode == 0, run.stderr
    for file in REPORT_FILES[1:]:
        assert (copy / file).is_file()
    assert "mapped_typical" in (copy / "scorecard.html").read_text(encoding="utf-8")
    assert (copy / "result.json").read_bytes() == source


def test_report_refuses_a_file_that_is_not_a_result(grader: Runner, tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text('{"not": "a result"}')
    run = grader("report", str(tmp_path / "result.json"))
    assert run.returncode == 2
    assert "not a grader result" in run.stderr


def test_summary_merges_many_runs_into_one_leaderboard(
    batch: GradedBatch, grader: Runner, tmp_path: Path
) -> None:
    other_run = tmp_path / "artifact-2"  # as if downloaded from another CI run
    shutil.copytree(batch.out / "mapped_typical", other_run / "candidate-b")
    run = grader("summary", str(batch.out), str(other_run), "--out", str(tmp_path / "leaderboard"))
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "leaderboard" / "summary.json").read_text())
    assert summary["count"] == len(NAMES) + 1
    grades = [row["overall"] for row in summary["submissions"]]
    assert grades == sorted(grades, reverse=True)
    for row in summary["submissions"]:  # links are relative to the leaderboard and lead somewhere
        assert (tmp_path / "leaderboard" / row["scorecard"]).resolve().is_file()
    ranking = [line for line in run.stdout.splitlines() if re.match(r"\s*\d+\.\s", line)]
    assert len(ranking) == len(GRADED) + 1  # the not-gradable ones are listed apart
    assert ranking[0].lstrip().startswith("1.")
    assert f"not gradable ({len(NAMES) - len(GRADED)}), not ranked:" in run.stdout
    assert len(summary["submissions"]) + len(summary["not_gradable"]) == summary["count"]
    assert "merged into" in run.stdout


def test_summary_of_a_folder_without_results_is_a_usage_error(
    grader: Runner, tmp_path: Path
) -> None:
    run = grader("summary", str(tmp_path), "--out", str(tmp_path / "lb"))
    assert run.returncode == 2
    assert "no readable result.json" in run.stderr


def test_a_second_run_on_the_same_output_folder_is_refused(
    batch: GradedBatch, grader: Runner, tmp_path: Path
) -> None:
    out, hang = tmp_path / "out", batch.folder / "hang.py"
    args = ["grade", str(hang), "--assignment", "transformer_lm", "--out", str(out), "--jobs", "1"]
    first = subprocess.Popen(
        [str(GRADER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    lock = out / ".grader.lock"
    deadline = time.monotonic() + 60
    while (
        not (lock.is_file() and lock.read_text().strip() == str(first.pid))
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    before = sorted(out.rglob("*"))
    second = grader(*args)
    after = sorted(out.rglob("*"))
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    assert second.returncode == 2
    assert f"another grading run (pid {first.pid}) is writing into {out}" in second.stderr
    assert before == after  # the refused run wrote nothing
    assert first.returncode == 130  # and the first one was still running, holding the folder
