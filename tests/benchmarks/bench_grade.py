"""How long grading takes from the command line: one submission, then a batch at 1 and 2 jobs.

Run from the project root:  .venv/bin/python tests/benchmarks/bench_grade.py [--copies 8]

Prints, in one run:
  - one submission (default submissions/strong.ipynb) graded by `grader grade` at the quick
    budget: wall time (target: under 60 s on two cores), the time the grader itself recorded,
    and the Hypothesis examples its checks ran (from result.json: each check records how
    many examples or probes it ran; single probes are counted apart);
  - a batch of --copies submissions (the files of submissions/, copied round-robin under
    new names) graded with --jobs 1 and with --jobs 2, and the speed-up.
Every run writes into a fresh folder with --no-resume, so nothing is reused. A script, not a
test: the numbers depend on the machine (and on what else runs on it), so nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GRADER = Path(sys.executable).with_name("grader")
"""The console script beside the interpreter running this (the project's venv)."""
SUBMISSIONS = ROOT / "submissions"


def grade(paths: list[Path], out: Path, budget: str, jobs: int) -> float:
    """Wall seconds of one `grader grade` run (its output is kept for when it fails)."""
    command = [
        str(GRADER),
        "grade",
        *map(str, paths),
        "--assignment",
        "transformer_lm",
        "--out",
        str(out),
        "--budget",
        budget,
        "--jobs",
        str(jobs),
        "--no-resume",
    ]
    start = time.perf_counter()
    run = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"grader failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return seconds


def examples(result: dict) -> tuple[int, int, int]:
    """(checks, Hypothesis examples, single probes) over every check of a result.json."""
    checks = [c for task in result["tasks"].values() for c in task["checks"]]
    drawn = sum(c["examples"] for c in checks if c["examples"] > 1)
    probes = sum(c["examples"] for c in checks if c["examples"] == 1)
    return len(checks), drawn, probes


def batch_files(folder: Path, copies: int) -> list[Path]:
    """``copies`` submissions: the example files in turn, each copy under its own name."""
    sources = sorted(
        p
        for p in SUBMISSIONS.iterdir()
        if p.suffix in (".ipynb", ".py", ".md", ".txt") and p.name != "README.md"
    )
    files = []
    for i in range(copies):
        source = sources[i % len(sources)]
        files.append(Path(shutil.copy(source, folder / f"copy{i + 1}_{source.name}")))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submission", type=Path, default=SUBMISSIONS / "strong.ipynb")
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--skip-batch", action="store_true", help="time the single submission only")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; budget {args.budget}"
    )

    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        work = Path(tmp)
        one = grade([args.submission], work / "one", args.budget, jobs=1)
        result = json.loads(next((work / "one").glob("*/result.json")).read_text())
        checks, drawn, probes = examples(result)
        print(
            f"one submission ({args.submission.name}): {one:.1f} s wall (target < 60 s), "
            f"{result['environment']['grading_seconds']:.1f} s recorded by the grader"
        )
        print(
            f"  {checks} checks ran {drawn} Hypothesis examples and {probes} single probes "
            f"({drawn + probes} in all; target >= 500)"
        )
        if args.skip_batch:
            return
        (work / "batch").mkdir()
        files = batch_files(work / "batch", args.copies)
        serial = grade(files, work / "jobs1", args.budget, jobs=1)
        print(
            f"batch of {len(files)}, --jobs 1: {serial:.1f} s ({serial / len(files):.1f} s a submission)"
        )
        parallel = grade(files, work / "jobs2", args.budget, jobs=2)
        print(
            f"batch of {len(files)}, --jobs 2: {parallel:.1f} s ({parallel / len(files):.1f} s a submission)"
        )
        print(f"speed-up of --jobs 2 over --jobs 1: {serial / parallel:.2f}x")


if __name__ == "__main__":
    main()
