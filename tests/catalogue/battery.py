"""Grade a submission through the real pipeline stages and keep what the checks said.

The tests of the property battery (test_battery.py, tests/grader/checks/test_seed_004.py)
and its benchmark (tests/benchmarks/bench_battery.py) share this: a submission file goes
through intake (load, extract, resolve), a real sandboxed worker loads it, and the
pipeline's own stages run in it, as `grader.pipeline.grade_submission` does, minus static
analysis and scoring, which no verdict of a check depends on:

- without the training run (``train=False``): the property battery alone, `run_suites`,
  which is the first half of `grader.pipeline.run_checks` (every kind's ``prepare`` hook,
  which finds the candidate's mask, then every task's checks in the same order and context);
- with it (``train=True``): `grader.pipeline.run_checks` itself, the battery followed by
  the training run and the timings against the reference (both cut short by
  `smoke_config`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import assignment as assignments
from grader.config import Budget, GraderConfig, TimingConfig, TrainingBudget
from grader.intake import extract, load_submission, resolve
from grader.pipeline import run_checks, run_suites
from grader.result import CheckResult, TrainingResult
from grader.sandbox import Sandbox

ASSIGNMENT = "transformer_lm"

RUN_CHECKS = frozenset(
    f"training.{name}"
    for name in (
        "runs",
        "loss_decreases",
        "not_too_good",
        "candidate_loop",
        "mask_reaches_model",
        "targets_aligned",
        "modes",
        "gradients_reset",
        "clipped_before_step",
    )
)
"""The training task's checks that come from the training run, not from a property suite."""

AFTER_SUITES = ("running the training check", "timing against the reference")
"""The pipeline's progress stages that come after the property suites (prefixes)."""

SMOKE_TRAINING = TrainingBudget(steps=10, eval_every=5, eval_windows=2, timeout_s=120)
"""Ten optimiser steps and four windows of the candidate's own loop: the run reaches every
line of their loop, so ``runs`` and ``mask_reaches_model`` have their verdict, but it is far
too short for ``loss_decreases`` (which needs the budgets of grader/config.py)."""

SMOKE_TIMING = TimingConfig(repeats=1, min_round_s=0.01)
"""One short round of timings: no verdict of a check depends on them."""


def smoke_config(budget: Budget = "quick") -> GraderConfig:
    """The grader's settings for ``budget`` (its example counts), with the training run cut
    to `SMOKE_TRAINING` and the timings to `SMOKE_TIMING`."""
    return GraderConfig(budget=budget, training_override=SMOKE_TRAINING, timing=SMOKE_TIMING)


@dataclass(frozen=True)
class Graded:
    """What the checks said about one submission."""

    name: str
    checks: dict[str, CheckResult]
    """Every check that ran, by name (``task.property``), as written: a task graded again with
    stand-ins for a part it calls (`grader.stand_ins`) shows here the checks it fails through
    that part."""
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
    final: dict[str, CheckResult] = field(default_factory=dict)
    """The verdicts that count: a task that calls a broken part graded in isolation."""
    notes: dict[str, str] = field(default_factory=dict)
    """Task id -> the isolation note, for each task graded with stand-ins."""

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

    with Sandbox(
        config.sandbox, device=config.device, seed=config.seed, label=name or path.stem
    ) as worker:
        report = worker.load(extracted.source)
        if not report.ok:
            error = report.error.summary() if report.error else "unknown error"
            return Graded(name or path.stem, {}, 0.0, time.perf_counter() - started, None, error)
        loaded = time.perf_counter()
        if train:
            checked = run_checks(worker, lm, resolutions, report.symbols, config, say)
            checks, training, isolation = checked.results, checked.training, checked.isolation
        else:
            checks, runs = run_suites(worker, lm, resolutions, report.symbols, config, say)
            training = None
            isolated = runs[0].shared.get("isolated", {}) if runs else {}
            isolation = {task: (only, note) for task, (_, only, note) in isolated.items()}
        after_suites = [t for s, t in stages.items() if s.startswith(AFTER_SUITES)]
        battery_s = min(after_suites, default=time.perf_counter()) - loaded
    finished = time.perf_counter()
    final = {check.name: check for results in checks.values() for check in results}
    as_written = dict(final) | {c.name: c for only, _ in isolation.values() for c in only}
    notes = {task: note for task, (_, note) in isolation.items()}
    return Graded(
        name or path.stem, as_written, battery_s, finished - started, training, None, final, notes
    )


def grade_source(
    source: str, name: str, folder: Path, config: GraderConfig, *, train: bool
) -> Graded:
    """Grade ``source`` handed in as the Python file ``folder/<name>.py``."""
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return grade_file(path, config, train=train, name=name)
