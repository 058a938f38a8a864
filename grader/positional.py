"""The training check of the positional-encoding test: does the candidate's model learn a task
that only positions can solve, and does their own dummy dataset have anything to learn?

Run in ``training.kind == "positional_dummy"`` assignments:

- ``reference_loop``: our loop (trusted code in the worker, Adam on minibatches) trains the
  candidate's model on the reference's dummy task (`reference.positional_task`): the target
  reads the first feature at one fixed position, minus its mean over the sequence. The data
  is made here and sent as tensors; the validation targets never leave the grader, which
  computes the validation MSE from the predictions the worker returns. By the task's
  symmetry, a model that cannot tell positions apart cannot beat predicting the mean; a
  position-blind reference model, trained the same way here, shows the number.
- ``training.dummy_data_signal``: see `grader.dummy_data`.
"""

from __future__ import annotations

import functools
import math
import re
import time
from typing import Any

import torch
import torch.nn.functional as F

from grader import dummy_data
from grader.assignment import Assignment
from grader.checks.base import Violation
from grader.checks.binding import construct, order_of, params_of
from grader.checks.positional_model import model_values
from grader.config import GraderConfig
from grader.result import CheckResult, CurvePoint, TrainingResult, TrainingRun
from grader.sandbox import CandidateError, WorkerError
from reference.positional_task import (
    DummyTask,
    PositionalTrainConfig,
    SelfAttentionModel,
    make_dummy_task,
    train_on_task,
)

TASK = "training"
CORPUS = "positional-dummy"
DEFAULTS: dict[str, Any] = {
    "seq_len": 8,
    "d_model": 16,
    "n_heads": 2,
    "n_train": 2048,
    "n_val": 512,
    "target_position": 2,
    "lr": 1e-2,
    "batch_size": 128,
    "eval_every": 50,
    "min_gain": 0.5,
    "init": "seq_len, d_model, n_heads",
}
"""The reference task's own settings, used where the assignment's options leave one out."""


def run_training(
    worker: Any,
    assignment: Assignment,
    symbols: dict[str, Any],
    config: GraderConfig,
    *,
    model: str | None = None,
) -> tuple[TrainingResult, list[CheckResult]]:
    """Train the candidate's model on the dummy task and check their dummy data.

    ``symbols`` is what the worker loaded (name -> ``SymbolInfo``, as ``LoadReport.symbols``);
    ``model`` is the model class the training task resolved to (by default the first of the
    assignment's ``training.model`` names the submission defines).
    """
    spec = assignment.training
    assert spec is not None and spec.kind == "positional_dummy", "not a positional_dummy assignment"
    opts = {**DEFAULTS, **spec.options}
    task = make_dummy_task(
        config.seed,
        opts["seq_len"],
        opts["d_model"],
        opts["n_train"],
        opts["n_val"],
        opts["target_position"],
    )
    steps = steps_for(opts, config)
    blind = position_blind_loss(
        task, steps, opts["n_heads"], opts["batch_size"], opts["lr"], config.seed
    )
    model = model or find_symbol(symbols, spec.model, "class")
    if model is None:
        run = TrainingRun(
            "reference_loop",
            "skip",
            f"no model class was found (looked for {', '.join(spec.model[:4])})",
        )
    else:
        try:
            run = train_and_measure(worker, model, symbols, task, opts, steps, blind, config)
        except (
            WorkerError
        ) as exc:  # the worker died (timeout, crash): a result, and a fresh worker for what follows
            run = TrainingRun(
                "reference_loop",
                "error",
                f"training your {model} killed the worker: {exc.summary()}",
            )
            worker.restart()
    data_fn = find_symbol(symbols, tuple(opts.get("data", ())), "function")
    sizes = {
        "n_samples": dummy_data.PER_CALL,
        "max_len": opts["seq_len"],
        "d_model": opts["d_model"],
        "vocab_size": dummy_data.VOCAB,
        "n_classes": dummy_data.CLASSES,
    }
    data_check = dummy_data.check(
        worker,
        TASK,
        data_fn,
        params_of(symbols, data_fn),
        sizes,
        config.seed,
        tuple(opts.get("data", ())),
    )
    training = TrainingResult(
        status={"pass": "pass", "error": "error", "skip": "missing"}.get(run.status, "fail"),
        corpus=CORPUS,
        splits=("train", "valid"),
        budget=config.budget,
        runs=(run,),
        baseline_loss=task.baseline_loss,
    )
    return training, [*checks_from_run(run, model), data_check]


def steps_for(opts: dict[str, Any], config: GraderConfig) -> int:
    """Optimiser steps for the configured budget (the assignment's table, else the budget's)."""
    table = opts.get("steps", {})
    return int(table[config.budget]) if config.budget in table else config.training_budget.steps


@functools.lru_cache(maxsize=8)
def _blind_loss(
    seed: int,
    seq_len: int,
    d_model: int,
    n_train: int,
    n_val: int,
    target_position: int,
    steps: int,
    n_heads: int,
    batch_size: int,
    lr: float,
) -> float:
    task = make_dummy_task(seed, seq_len, d_model, n_train, n_val, target_position)
    with (
        torch.random.fork_rng(),
        dummy_data.one_thread(),
    ):  # the grader's random state stays as it was
        torch.manual_seed(seed)
        model = SelfAttentionModel(seq_len, d_model, n_heads, use_positions=False)
        return train_on_task(model, task, PositionalTrainConfig(steps, batch_size, lr), seed)


def position_blind_loss(
    task: DummyTask, steps: int, n_heads: int, batch_size: int, lr: float, seed: int
) -> float:
    """Validation MSE of the reference model WITHOUT its positional encoding, trained with the
    same loop and budget (trusted code, run here; cached across submissions)."""
    return _blind_loss(
        seed,
        task.seq_len,
        task.d_model,
        task.train_x.size(0),
        task.val_x.size(0),
        task.target_position,
        steps,
        n_heads,
        batch_size,
        lr,
    )


def validation_mse(worker: Any, model: Any, task: DummyTask) -> float:
    """MSE of the predictions the worker returns for the validation inputs, computed here."""
    predictions = worker.run("positional_predict", model, task.val_x)
    expected = tuple(task.val_y.shape)
    if not isinstance(predictions, torch.Tensor) or tuple(predictions.shape) != expected:
        got = (
            tuple(predictions.shape)
            if isinstance(predictions, torch.Tensor)
            else type(predictions).__name__
        )
        raise Violation(f"the worker returned {got} predictions, expected {expected}")
    return float(F.mse_loss(predictions.double(), task.val_y.double()))


def train_and_measure(
    worker: Any,
    model: str,
    symbols: dict[str, Any],
    task: DummyTask,
    opts: dict[str, Any],
    steps: int,
    blind: float,
    config: GraderConfig,
) -> TrainingRun:
    """Our loop on the candidate's model; the validation MSE measured here after every chunk."""
    driver = "reference_loop"
    curve: list[CurvePoint] = []
    step, step_ms = 0, []
    deadline = time.monotonic() + config.training_budget.timeout_s
    try:
        worker.run("reseed", config.seed)
        values = model_values(task.seq_len, task.d_model, opts["n_heads"])
        handle = construct(
            worker, model, params_of(symbols, model), values, order_of(opts, DEFAULTS["init"])
        )
        before = validation_mse(worker, handle, task)
        curve.append(CurvePoint(0, None, before))
        trainer = worker.run(
            "positional_trainer",
            handle,
            task.train_x,
            task.train_y,
            opts["lr"],
            opts["batch_size"],
            config.seed,
        )
        while step < steps and time.monotonic() < deadline:
            count = min(opts["eval_every"], steps - step)
            started = time.perf_counter()
            losses = worker.call_method(trainer, "steps", count)
            step_ms.append(
                (time.perf_counter() - started) * 1000 / count
            )  # our clock, not the worker's
            step += count
            train_loss = sum(losses) / len(losses) if losses else float("nan")
            after = validation_mse(worker, handle, task)
            curve.append(CurvePoint(step, train_loss, after))
            if not (math.isfinite(after) and math.isfinite(train_loss)):
                break
    except Violation as exc:
        return TrainingRun(driver, "error", exc.message, steps=step, curve=tuple(curve))
    except CandidateError as exc:
        what = "building or running" if not curve else f"training (after {step} steps)"
        return TrainingRun(
            driver,
            "error",
            f"{what} your {model} raised {exc.summary()}",
            steps=step,
            curve=tuple(curve),
        )
    ms = sorted(step_ms)[len(step_ms) // 2] if step_ms else None
    status, message = verdict(
        before, curve[-1].val_loss, task.baseline_loss, blind, opts["min_gain"]
    )
    if step < steps and status != "fail":
        message += f" (stopped by the {config.training_budget.timeout_s:.0f} s limit after {step} of {steps} steps)"
    described = (
        f"the task: the target is feature 0 at position {task.target_position} minus its mean over the "
        f"{task.seq_len} positions; {task.train_x.size(0)} training and {task.val_x.size(0)} validation "
        f"sequences of {task.seq_len} x {task.d_model}, seed {config.seed}"
    )
    control = (
        f"the reference model without its positional encoding, trained the same way, ends at validation "
        f"MSE {blind:.3f}: no position-blind model can beat predicting the mean here"
    )
    return TrainingRun(
        driver,
        status,
        message,
        steps=step,
        val_loss_before=before,
        val_loss_after=curve[-1].val_loss,
        curve=tuple(curve),
        ms_per_batch=None if ms is None else round(ms, 2),
        tokens_per_s=None if not ms else round(opts["batch_size"] * task.seq_len / ms * 1000, 1),
        observations=(described, control),
    )


def verdict(
    before: float, after: float | None, baseline: float, blind: float, min_gain: float
) -> tuple[str, str]:
    """Pass when the validation MSE ends well below the mean's; fail otherwise, saying why."""
    if after is None or not math.isfinite(after):
        return (
            "fail",
            f"the validation MSE became {after} (NaN or inf): training diverged or the model produces NaN",
        )
    needed = (1 - min_gain) * baseline
    numbers = (
        f"validation MSE {before:.3f} -> {after:.3f}; predicting the mean scores {baseline:.3f}, a "
        f"position-blind model trained the same way {blind:.3f}"
    )
    if after <= needed:
        return "pass", (
            f"{numbers}: the model ends at {after / baseline:.0%} of the mean's error (needed at most "
            f"{1 - min_gain:.0%}), so it learned to use positions"
        )
    if after < baseline:
        return "fail", (
            f"{numbers}: better than the mean, but only {1 - after / baseline:.0%} better (needed "
            f"{min_gain:.0%}): the model barely uses positions"
        )
    return "fail", (
        f"{numbers}: no better than predicting the mean. The target reads one fixed position, so only "
        "a model that tells positions apart can beat the mean: positional information does not reach "
        "the model's output (or the model cannot learn from it)"
    )


def checks_from_run(run: TrainingRun, model: str | None) -> list[CheckResult]:
    """``training.runs`` and ``training.learns_positions`` from the run's verdict."""
    if run.status == "skip":
        return [
            CheckResult(f"{TASK}.{name}", TASK, "skip", run.message)
            for name in ("runs", "learns_positions")
        ]
    ran = run.status != "error"
    return [
        CheckResult(
            f"{TASK}.runs",
            TASK,
            "pass" if ran else "error",
            f"your {model} trains on the dummy task for {run.steps} steps without errors"
            if ran
            else run.message,
        ),
        CheckResult(
            f"{TASK}.learns_positions",
            TASK,
            run.status if ran else "error",
            run.message,
            None
            if run.status == "pass"
            else {"val_mse_before": run.val_loss_before, "val_mse_after": run.val_loss_after},
        ),
    ]


def find_symbol(
    symbols: dict[str, Any], names: tuple[str, ...] | list[str], kind: str
) -> str | None:
    """The first of ``names`` the submission defines as a ``kind`` (exactly, then without
    case and underscores)."""
    defined = {n: info for n, info in symbols.items() if info.kind == kind and info.defined_here}
    for name in names:
        if name in defined:
            return name
    by_normal = {_normal(n): n for n in defined}
    return next((by_normal[_normal(n)] for n in names if _normal(n) in by_normal), None)


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())
