"""Grade a submission through the real pipeline stages and keep what the checks said.

The tests of the property battery (test_battery.py, tests/grader/checks/test_seed_004.py)
and its benchmark (tests/benchmarks/bench_battery.py) share this: a submission file goes
through intake (load, extract, resolve), a real sandboxed worker loads it, and the
pipeline's own stages run in it, as `grader.pipeline.grade_submission` does, minus static
analysis and scoring, which no verdict of a check depends on:

- without the training run (``train=False``): the property battery alone, `run_suites`,
  which is the first half of `grader.pipeline.run_checks` (the candidate's mask found with
  `grader.pipeline.find_mask`, then every task's suite in the same order and context);
- with it (``train=True``): `grader.pipeline.run_checks` itself, the battery followed by
  the training run (cut to `SmokeConfig`'s few steps) and the timings against the reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import assignment as assignments
from grader.assignment import Assignment
from grader.checks import SUITES
from grader.checks.base import SuiteContext
from grader.config import GraderConfig, TimingConfig, TrainingBudget
from grader.intake import extract, load_submission, resolve
from grader.pipeline import find_mask, run_checks, training_parts
from grader.result import CheckResult, TrainingResult
from grader.sandbox import Sandbox, WorkerError

ASSIGNMENT = "transformer_lm"

RUN_CHECKS = frozenset(
    f"training.{name}" for name in ("runs", "loss_decreases", "not_too_good", "candidate_loop", "mask_reaches_model")
)
"""The training task's checks that come from the training run, not from a property suite."""

AFTER_SUITES = ("training", "timing against the reference")
"""The pipeline's progress stages that come after the property suites."""

SMOKE_TRAINING = TrainingBudget(steps=10, eval_every=5, eval_windows=2, timeout_s=120)
"""Ten optimiser steps and four windows of the candidate's own loop: the run reaches every
line of their loop, so ``runs`` and ``mask_reaches_model`` have their verdict, but it is far
too short for ``loss_decreases`` (which needs the budgets of grader/config.py)."""


SMOKE_TIMING = TimingConfig(repeats=1, min_round_s=0.01)
"""One short round of timings: no verdict of a check depends on them."""


@dataclass(frozen=True)
class SmokeConfig(GraderConfig):
    """The grader's settings with a training run cut to `SMOKE_TRAINING` and the timings to
    `SMOKE_TIMING` (the checks keep the example counts of ``budget``)."""

    timing: TimingConfig = field(default_factory=lambda: SMOKE_TIMING)

    @property
    def training_budget(self) -> TrainingBudget:
        return SMOKE_TRAINING


@dataclass(frozen=True)
class Graded:
    """What the checks said about one submission."""

    name: str
    checks: dict[str, CheckResult]
    """Every check that ran, by name (``task.property``)."""
    battery_s: float
    """Wall seconds of the property battery: finding the mask and every task's suite, from
    a loaded worker to the start of training (worker start-up, training and timings
    excluded)."""
    total_s: float
    """Wall seconds of the whole grading: intake, worker start-up, and the training run and
    timings when they ran."""
    training: TrainingResult | None
    load_error: str | None
    """Why the worker could not load the submission, when it could not."""

    @property
    def examples(self) -> int:
        """Hypothesis examples (and probes) run by every check together."""
        return sum(c.examples for c in self.checks.values())

    def timing(self) -> str:
        return f"{self.name}: battery {self.battery_s:.1f} s, {self.examples} examples (grading {self.total_s:.1f} s)"


def grade_file(path: Path, config: GraderConfig, *, train: bool, name: str | None = None) -> Graded:
    """Grade the submission at ``path`` (any accepted format) through the pipeline's stages."""
    lm = assignments.get(ASSIGNMENT)
    started = time.perf_counter()
    submission = load_submission(path)
    extracted = extract(submission, lm.handout_source())
    resolutions = resolve(extracted, lm)  # resolved with the loop functions, as in a real grading
    stages: dict[str, float] = {}

    def say(stage: str) -> None:  # the pipeline's progress callback: when each stage begins
        stages.setdefault(stage, time.perf_counter())

    with Sandbox(config.sandbox, device=config.device, seed=config.seed, label=name or path.stem) as worker:
        report = worker.load(extracted.source)
        if not report.ok:
            error = report.error.summary() if report.error else "unknown error"
            return Graded(name or path.stem, {}, 0.0, time.perf_counter() - started, None, error)
        loaded = time.perf_counter()
        if train:
            checks, training, _ = run_checks(worker, lm, resolutions, report.symbols, config, say)
        else:
            checks, training = run_suites(worker, lm, resolutions, report.symbols, config, say), None
        after_suites = [stages[s] for s in AFTER_SUITES if s in stages]
        battery_s = min(after_suites, default=time.perf_counter()) - loaded
    finished = time.perf_counter()
    by_name = {check.name: check for results in checks.values() for check in results}
    return Graded(name or path.stem, by_name, battery_s, finished - started, training, None)


def run_suites(worker: Any, lm: Assignment, resolutions: dict[str, Any], symbols: dict[str, Any],
               config: GraderConfig, say: Callable[[str], None]) -> dict[str, list[CheckResult]]:
    """The property half of `grader.pipeline.run_checks`, stage for stage: find the mask,
    then run every task's suite with the same symbols and shared facts. (The pipeline does
    not expose this half on its own; while it does not, this mirrors its loop.)"""
    symbol_of = {task: (r.symbol if r.found and r.resolved_by != "inline" else None) for task, r in resolutions.items()}
    model = training_parts(resolutions).get("model")
    say("finding the causal mask")
    source = find_mask(worker, lm, resolutions, symbols)
    shared = {"mask_source": source, "symbols": symbols}
    results: dict[str, list[CheckResult]] = {}
    for task in lm.tasks:
        symbol = symbol_of.get(task.id) if task.id != "training" else model
        if task.suite not in SUITES or (symbol is None and task.id != "causal_mask"):
            continue
        if task.id == "causal_mask" and symbol is None and source.style is None and not resolutions[task.id].found:
            continue
        say(f"checking {task.id}")
        try:
            results[task.id] = SUITES[task.suite](SuiteContext(worker, task, symbol, config, symbols=symbol_of, shared=shared))
        except WorkerError as exc:  # the suite could not start: reported as the pipeline does
            results[task.id] = [CheckResult(f"{task.id}.suite", task.id, "error", exc.summary())]
            worker.restart()
    return results


def grade_source(source: str, name: str, folder: Path, config: GraderConfig, *, train: bool) -> Graded:
    """Grade ``source`` handed in as the Python file ``folder/<name>.py``."""
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return grade_file(path, config, train=train, name=name)
