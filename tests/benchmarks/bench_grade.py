"""How long grading takes from the command line, this code against an older commit, side by side.

Run from the project root:  .venv/bin/python tests/benchmarks/bench_grade.py [--copies 20]

Prints, in one run (old and new interleaved, so a change in the machine's load falls on both):
  - one submission (default submissions/strong.ipynb) graded by `grader grade` at the quick
    budget (target: 15 s on a quiet machine): by the old commit's CLI, then by this one with
    an empty reference cache (the first submission ever graded with these settings) and with
    a warm one (every later one);
  - a batch of --copies submissions (the files of submissions/, copied round-robin under new
    names) with --jobs 2 (target: 8 s a submission amortised), old then new (a cold cache:
    the batch pays the reference side once);
  - for each run: wall seconds, CPU seconds of every process it started (the grader, its
    grading processes, the sandbox workers: counted by a cgroup of the ``cpuacct``
    controller when one can be made, since a worker killed inside bubblewrap is never
    reaped and its CPU time never reaches ``getrusage``; a number that load changes much
    less than the wall clock), the load average before and after, and the verdicts, which
    must agree;
  - the share of each stage (from result.json's ``environment.stages``; the old commit does
    not record them).
The old commit runs from a `git worktree` of it (default: main's commit), with this
virtual environment and PYTHONPATH pointing at that worktree. Every run writes into a fresh
folder with --no-resume. A script, not a test: the numbers depend on the machine and on what
else runs on it, so nothing is asserted.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GRADER = Path(sys.executable).with_name("grader")
"""The console script beside the interpreter running this (the project's venv)."""
SUBMISSIONS = ROOT / "submissions"
PR_SET_CHILD_SUBREAPER = 36
CPUACCT = Path("/sys/fs/cgroup/cpuacct")
"""cgroup v1's CPU accounting controller (mounted alone here, so a group of its own changes
how CPU time is counted, not how it is shared)."""


@dataclass
class Run:
    """One `grader grade` run: what it cost and what it decided."""

    label: str
    wall_s: float
    cpu_s: float
    load: tuple[float, float]
    results: list[dict] = field(default_factory=list)

    def verdicts(self) -> dict[str, tuple]:
        """Submission -> (status, each task's status): what must not change. (The overall
        grade may move by a band of the optimisation criterion: timings are noisy.)"""
        return {
            r["submission"]["name"]: (
                r.get("status", "graded"),
                tuple(sorted((t, v["status"]) for t, v in r["tasks"].items())),
            )
            for r in self.results
        }

    def overall(self) -> dict[str, float | None]:
        return {r["submission"]["name"]: r["overall"] for r in self.results}


CPU_HOW = ["not measured"]


def become_subreaper() -> None:
    """Orphaned descendants (a fork server outliving its grader by a moment) are reparented
    to this process, so their CPU time is counted when we reap them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(wait_s: float = 5.0) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.1)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuGroup:
    """A ``cpuacct`` cgroup the run's processes start in (and their descendants stay in), or
    ``getrusage`` of reaped children where no cgroup can be made (an undercount)."""

    def __init__(self, label: str) -> None:
        self.path: Path | None = CPUACCT / f"bench-grade-{os.getpid()}-{abs(hash(label))}"
        try:
            self.path.mkdir()
        except OSError:
            self.path = None
        self.before = children_cpu()

    def enter(self) -> None:
        """Run in the child between fork and exec: join the group."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float:
        if self.path is None:
            return children_cpu() - self.before
        used = int((self.path / "cpuacct.usage").read_text()) / 1e9
        for _ in range(50):  # empty once the last straggler has exited
            try:
                self.path.rmdir()
                break
            except OSError:
                time.sleep(0.2)
        return used

    @property
    def how(self) -> str:
        return "cgroup cpuacct" if self.path is not None else "getrusage (undercount)"


def grade(
    label: str,
    paths: list[Path],
    out: Path,
    jobs: int,
    budget: str,
    old: Path | None,
    cache: Path,
) -> Run:
    """One `grader grade` run (``old``: the worktree whose code to run instead of ours)."""
    command = [str(GRADER), "grade", *map(str, paths), "--assignment", "transformer_lm"]
    command += ["--out", str(out), "--budget", budget, "--jobs", str(jobs), "--no-resume"]
    env = {**os.environ, "GRADER_CACHE_DIR": str(cache)}
    env.pop("PYTHONPATH", None)
    if old is not None:
        env["PYTHONPATH"] = str(old)
    load_before = os.getloadavg()[0]
    group = CpuGroup(label)
    start = time.perf_counter()
    run = subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        preexec_fn=group.enter,  # a cgroup is joined between fork and exec
    )
    wall = time.perf_counter() - start
    reap_orphans()
    cpu = group.seconds()
    CPU_HOW[0] = group.how
    if run.returncode != 0:
        sys.exit(f"{label}: grader failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]
    return Run(label, wall, cpu, (load_before, os.getloadavg()[0]), results)


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
        files.append(Path(shutil.copy(source, folder / f"copy{i + 1:02d}_{source.name}")))
    return files


def old_worktree(ref: str, where: Path) -> Path:
    """A detached worktree of ``ref`` (its code, run with our virtual environment)."""
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), ref],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return where


def stage_table(runs: list[Run]) -> list[str]:
    """Mean seconds and share of each stage over the results of ``runs``."""
    seconds: dict[str, list[float]] = defaultdict(list)
    totals = []
    for run in runs:
        for result in run.results:
            stages = result["environment"].get("stages") or {}
            if not stages:
                continue
            totals.append(sum(stages.values()))
            for name, value in stages.items():
                seconds[name].append(value)
    if not totals:
        return ["  (no stage timings recorded)"]
    count, whole = len(totals), statistics.mean(totals)
    lines = [f"  mean over {count} result(s): {whole:.1f} s"]
    width = max(map(len, seconds))
    for name, values in sorted(seconds.items(), key=lambda item: -sum(item[1])):
        mean = sum(values) / count
        lines.append(f"  {name:<{width}}  {mean:7.2f} s  {mean / whole:6.1%}")
    return lines


def describe(run: Run, count: int, target: float | None) -> str:
    each = run.wall_s / count
    goal = f" (target <= {target:.0f} s)" if target is not None else ""
    return (
        f"{run.label}: {run.wall_s:.1f} s wall, {each:.1f} s a submission{goal}; "
        f"{run.cpu_s:.1f} s CPU ({run.cpu_s / count:.1f} s a submission); "
        f"load {run.load[0]:.1f} -> {run.load[1]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submission", type=Path, default=SUBMISSIONS / "strong.ipynb")
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--old", default="main", help="the commit to compare with (default: main)")
    parser.add_argument("--skip-batch", action="store_true", help="time the single submission only")
    args = parser.parse_args()
    become_subreaper()
    old_ref = subprocess.run(
        ["git", "rev-parse", "--short", args.old],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    new_ref = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(
        f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; "
        f"budget {args.budget}; old = {args.old} ({old_ref}), new = this tree ({new_ref}, "
        "with its uncommitted changes)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        work = Path(tmp)
        old = old_worktree(old_ref, work / "old-code")
        try:
            single = [args.submission]
            cold_cache, batch_cache, no_cache = work / "cache", work / "batch-cache", work / "none"
            runs = [
                grade("old, one submission", single, work / "o1", 1, args.budget, old, no_cache),
                grade("new, one submission, empty cache", single, work / "n1", 1, args.budget, None, cold_cache),
                grade("new, one submission, warm cache", single, work / "n2", 1, args.budget, None, cold_cache),
            ]  # fmt: skip
            print(f"CPU seconds counted by {CPU_HOW[0]}")
            for run in runs:
                print(describe(run, 1, 15.0), flush=True)
            agree = runs[0].verdicts() == runs[1].verdicts() == runs[2].verdicts()
            print(f"  verdicts identical old/new: {agree}; overall: "
                  + ", ".join(str(r.overall()) for r in runs))  # fmt: skip
            print("stages of one submission (new, warm cache):")
            print("\n".join(stage_table(runs[2:3])), flush=True)
            if args.skip_batch:
                return
            (work / "batch").mkdir()
            files = batch_files(work / "batch", args.copies)
            n = len(files)
            old_batch = grade(f"old, batch of {n}, --jobs {args.jobs}", files, work / "ob", args.jobs, args.budget, old, no_cache)  # fmt: skip
            print(describe(old_batch, n, 8.0), flush=True)
            new_batch = grade(f"new, batch of {n}, --jobs {args.jobs}", files, work / "nb", args.jobs, args.budget, None, batch_cache)  # fmt: skip
            print(describe(new_batch, n, 8.0), flush=True)
            print(f"  verdicts identical old/new: {old_batch.verdicts() == new_batch.verdicts()}")
            moved = {
                name: (grade, new_batch.overall().get(name))
                for name, grade in old_batch.overall().items()
                if grade != new_batch.overall().get(name)
            }
            print(f"  overall grades that differ (old, new): {moved or 'none'}")
            print(f"  speed-up: {old_batch.wall_s / new_batch.wall_s:.2f}x wall, "
                  f"{old_batch.cpu_s / new_batch.cpu_s:.2f}x CPU")  # fmt: skip
            print(f"stages of a submission in the batch (new, mean over {n}):")
            print("\n".join(stage_table([new_batch])))
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(old)],
                check=False,
                cwd=ROOT,
                capture_output=True,
            )


if __name__ == "__main__":
    main()
