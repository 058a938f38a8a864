"""Grade many submissions: in parallel, resumable, one bad submission never stops the batch.

Each submission is graded in its own grader process (which starts its own sandboxed
worker), so a crash of anything while grading one submission is that submission's error.
Results are written atomically; a rerun skips submissions whose result.json matches the
file's hash, the assignment and the settings. A lock on the output folder keeps two runs
from mixing their outputs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing as mp
import queue
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.config import GraderConfig
from grader.result import SubmissionResult


class OutputLocked(Exception):
    """Another grading run is writing into the same output folder."""


def fingerprint(assignment: Assignment, config: GraderConfig, overrides: dict[str, str]) -> str:
    """What must match for an existing result to be reused."""
    settings = {"assignment": assignment.id, "config": asdict(config), "overrides": overrides}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def unique_names(paths: list[Path]) -> list[str]:
    from grader.intake.load import safe_name

    names: list[str] = []
    for path in paths:
        name, n = safe_name(path), 2
        while name in names:
            name, n = f"{safe_name(path)}-{n}", n + 1
        names.append(name)
    return names


def reusable(out_dir: Path, path: Path, print_: str) -> SubmissionResult | None:
    from grader.report import load_result

    result_path = out_dir / "result.json"
    if not result_path.exists():
        return None
    try:
        result = load_result(result_path)
    except (ValueError, KeyError, TypeError):
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    if result.submission.sha256 == digest and result.environment.get("fingerprint") == print_:
        return result
    return None


def _grade_one(path: str, name: str, assignment_folder: str, config: GraderConfig, overrides: dict[str, str],
               out_dir: str, formats: tuple[str, ...], print_: str, events: Any) -> dict[str, Any]:
    """Runs in a child process: grade, write the reports, return the result as JSON data."""
    from grader.assignment import load
    from grader.pipeline import error_result, grade_submission
    from grader.report import write_reports

    def progress(stage: str) -> None:
        if events is not None:
            events.put((name, stage))

    assignment = load(Path(assignment_folder))
    try:
        result = grade_submission(Path(path), assignment, config, overrides=overrides, progress=progress, name=name)
    except Exception:  # noqa: BLE001 - a grader bug on one submission must not stop the batch
        result = error_result(Path(path), assignment, config, name, "the grader failed on this submission:\n" + traceback.format_exc(limit=5))
    result = _with_fingerprint(result, print_)
    write_reports(result, Path(out_dir), formats=formats)
    progress("done")
    return result.to_dict()


def _with_fingerprint(result: SubmissionResult, print_: str) -> SubmissionResult:
    from dataclasses import replace

    return replace(result, environment={**result.environment, "fingerprint": print_})


def grade_batch(
    paths: list[Path], assignment: Assignment, config: GraderConfig, out: Path, *, overrides: dict[str, str] | None = None,
    jobs: int = 1, formats: tuple[str, ...] = ("html", "json", "junit", "markdown"), resume: bool = True, show_score: bool = True,
) -> list[SubmissionResult]:
    from grader.report import write_batch

    overrides = overrides or {}
    out.mkdir(parents=True, exist_ok=True)
    lock = open(out / ".grader.lock", "w")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputLocked(f"another grading run is writing into {out}; choose another --out") from None

    print_ = fingerprint(assignment, config, overrides)
    names = unique_names(paths)
    display = Progress(names)
    results: dict[str, SubmissionResult] = {}
    todo = []
    for path, name in zip(paths, names, strict=True):
        done = reusable(out / name, path, print_) if resume else None
        if done is not None:
            results[name] = done
            display.update(name, "already graded (resumed)")
        else:
            todo.append((path, name))

    ctx = mp.get_context("spawn")  # a fresh interpreter per child: no inherited threads or state
    manager = ctx.Manager()
    events = manager.Queue()
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
        futures = {
            pool.submit(_grade_one, str(path), name, str(assignment.folder), config, overrides, str(out / name), formats, print_, events): name
            for path, name in todo
        }
        pending = set(futures)
        while pending:
            _drain(events, display)
            finished = [f for f in pending if f.done()]
            for future in finished:
                pending.discard(future)
                name = futures[future]
                try:
                    results[name] = SubmissionResult.from_dict(future.result())
                except Exception as exc:  # noqa: BLE001 - the child died (e.g. killed): record it and go on
                    display.update(name, f"failed: {exc}")
                    continue
                r = results[name]
                display.update(name, f"overall {r.overall:.0f}/100" if show_score else "checked")
            time.sleep(0.1)
        _drain(events, display)
    manager.shutdown()
    ordered = [results[n] for n in names if n in results]
    summary, index = write_batch([(results[n], out / n) for n in names if n in results], out)
    display.finish(ordered, out, index, show_score)
    lock.close()
    return ordered


def _drain(events: Any, display: "Progress") -> None:
    while True:
        try:
            name, stage = events.get_nowait()
        except queue.Empty:
            return
        display.update(name, stage)


class Progress:
    """Per-submission, per-stage progress: redrawn in place on a terminal, silent otherwise."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.state = {n: "waiting" for n in names}
        self.tty = sys.stderr.isatty()
        self.drawn = 0
        self.started = time.monotonic()

    def update(self, name: str, stage: str) -> None:
        self.state[name] = stage
        if not self.tty:
            return
        if self.drawn:
            sys.stderr.write(f"\x1b[{self.drawn}F")
        width = max(len(n) for n in self.names)
        for n in self.names:
            sys.stderr.write(f"\x1b[2K  {n:<{width}}  {self.state[n]}\n")
        self.drawn = len(self.names)
        sys.stderr.flush()

    def finish(self, results: list[SubmissionResult], out: Path, index: Path, show_score: bool) -> None:
        elapsed = time.monotonic() - self.started
        width = max((len(r.submission.name) for r in results), default=10)
        for r in results:
            grade = f"overall {r.overall:5.1f}" if show_score else ""
            tasks = " ".join(f"{t.id}:{t.status}" for t in r.tasks.values())
            print(f"{r.submission.name:<{width}}  {grade}  {tasks}")
        print(f"graded {len(results)} submission(s) in {elapsed:.0f} s; reports in {out}/ (open {index})")
