"""Fixtures of the command-line tests: the real console script, and one graded batch that the
grading, resume, report, summary and handout tests all read.

Grading is slow (tens of seconds a submission), so the batch is graded once per session:
a folder holding a real submission (renamed, so that only ``--map`` finds its attention),
the untouched starter notebook, and four bad submissions (a syntax error, an empty file,
binary junk, code that hangs while loading). The first run gets SIGTERM once its first
result is written; a second, identical run resumes it. Both runs are kept for the tests.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_support import (
    BAD_SUBMISSIONS,
    GRADER,
    MAPPED_SYMBOL,
    PTB_DIR,
    ROOT,
    GradedBatch,
    Runner,
    alive,
    descendants,
    mapped_typical,
    run_grader,
)


@pytest.fixture(scope="session")
def grader() -> Runner:
    if not GRADER.is_file():
        pytest.skip(f"the console script {GRADER} is not installed (pip install -e .)")
    return run_grader


@pytest.fixture(scope="session")
def batch(grader: Runner, tmp_path_factory: pytest.TempPathFactory) -> GradedBatch:
    root = tmp_path_factory.mktemp("cli-batch")
    folder = root / "submissions"
    folder.mkdir()
    for name, (content, _) in BAD_SUBMISSIONS.items():
        (folder / name).write_bytes(content)
    (folder / "mapped_typical.py").write_bytes(mapped_typical())
    made = grader("handout", "transformer_lm", "--out", str(root / "handout"))
    assert made.returncode == 0, made.stderr
    shutil.copy(root / "handout" / "transformer_lm.ipynb", folder / "untouched_handout.ipynb")

    out = root / "out"
    ptb = (PTB_DIR / "ptb.valid.txt").is_file() and (PTB_DIR / "ptb.test.txt").is_file()
    corpus = ["--data-dir", str(PTB_DIR), "--splits", "valid:test"] if ptb else []
    args = [
        "grade",
        str(folder),
        "--assignment",
        "transformer_lm",
        "--out",
        str(out),
        "--jobs",
        "2",
        "--budget",
        "quick",
        "--seed",
        "3",
        "--map",
        f"attention={MAPPED_SYMBOL}",
        "--format",
        "html,json,junit,markdown",
        "--profile",
        *corpus,
    ]
    interrupted, survivors = interrupt_after_first_result(args, out)
    graded = GradedBatch(folder, out, args, ptb, interrupted, survivors=survivors)
    graded.done_after_interrupt = {
        p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/result.json")
    }
    graded.resumed = grader(*args)
    return graded


def interrupt_after_first_result(
    args: list[str], out: Path
) -> tuple[subprocess.CompletedProcess, list[int]]:
    """Start a run, send it SIGTERM once a result.json exists; returns the run and those of
    its processes (grading children, sandbox workers) that outlive it."""
    run = subprocess.Popen(
        [str(GRADER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    deadline = time.monotonic() + 300
    while not any(out.glob("*/result.json")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    family = descendants(run.pid)
    run.send_signal(signal.SIGTERM)
    stdout, stderr = run.communicate(timeout=60)
    time.sleep(2)  # sandbox workers die with their parent (bwrap --die-with-parent), not at once
    survivors = sorted(pid for pid in family if alive(pid))
    return subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr), survivors
