"""The training check of the positional-encoding test: does the candidate's model learn a task
that only positions can solve, and does their own dummy dataset have anything to learn?

Run by the ``positional_training`` kind (`grader.kinds.positional`):

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
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from grader import dummy_data, reference_side
from grader.checks.base import Violation
from grader.checks.binding import construct, order_of, params_of
from grader.checks.positional_model import model_values
from grader.config import GraderConfig
from grader.driver import Interrupted, drive
from grader.result import CheckResult, TrainingResult, TrainingRun
from grader.sandbox import CandidateError, WorkerError
from reference.positional_task import (
    DummyTask,
    PositionalTrainConfig,
    SelfAttentionModel,
    make_dummy_task,
    train_on_task,
)

CORPUS = "positional-dummy"


@dataclass(frozen=True)
class PositionalTrainingOptions:
    """The dummy task the candidate's model trains on (`reference.positional_task`)."""

    seq_len: int = 8
    """Positions per sequence."""
    d_model: int = 16
    """Features per position."""
    n_heads: int = 2
    """Heads of the model the check builds."""
    n_train: int = 2048
    """Training sequences."""
    n_val: int = 512
    """Validation sequences (their targets never leave the grader)."""
    target_position: int = 2
    """The position whose first feature the target reads."""
    lr: float = 1e-2
    """Adam's learning rate in the grader's loop (the reference's own setting)."""
    batch_size: int = 128
    """Minibatch of the grader's loop."""
    eval_every: int = 50
    """Steps between two validation measurements."""
    min_gain: float = 0.5
    """The validation MSE must end below (1 - min_gain) x the predict-the-mean baseline."""
    steps: dict[str, int] = field(default_factory=dict)
    """Optimiser steps per budget name (``quick = 300``); the budget's own steps otherwise."""
    data: tuple[str, ...] = ()
    """Names of the candidate's dummy-data function, tried in order (exact, then without
    case and underscores)."""
    init: str = "seq_len, d_model, n_heads"
    """The handout's constructor order, for parameters whose names say nothing."""


def run_training(
    worker: Any,
    task: str,
    opts: PositionalTrainingOptions,
    symbols: dict[str, Any],
    config: GraderConfig,
    *,
    model: str | None,
    looked_for: tuple[str, ...] = (),
) -> tuple[TrainingResult, list[CheckResult]]:
    """Train the candidate's model on the dummy task and check their dummy data.

    ``symbols`` is what the worker loaded (name -> ``SymbolInfo``, as ``LoadReport.symbols``);
    ``model`` is the model class the task resolved to, else the first of ``looked_for`` the
    submission defines (with none, the data is checked alone).
    """
    dummy = make_dummy_task(
        config.seed, opts.seq_len, opts.d_model, opts.n_train, opts.n_val, opts.target_position
    )
    steps = steps_for(opts, config)
    blind = position_blind_loss(dummy, steps, opts.n_heads, opts.batch_size, opts.lr, config.seed)
    model = model or find_symbol(symbols, looked_for, "class")
    if model is None:
        looked = ", ".join(looked_for[:4])
        run = TrainingRun(
            "reference_loop", "skip", f"no model class was found (looked for {looked})"
        )
    else:
        try:
            run = train_and_measure(worker, model, symbols, dummy, opts, steps, blind, config)
        except WorkerError as exc:  # the worker died (timeout, crash): a fresh one follows
            message = f"training your {model} killed the worker: {exc.summary()}"
            run = TrainingRun("reference_loop", "error", message)
            worker.restart()
    data_fn = find_symbol(symbols, opts.data, "function")
    sizes = {
        "n_samples": dummy_data.PER_CALL,
        "max_len": opts.seq_len,
        "d_model": opts.d_model,
        "vocab_size": dummy_data.VOCAB,
        "n_classes": dummy_data.CLASSES,
    }
    data_check = dummy_data.check(
        worker, task, data_fn, params_of(symbols, data_fn), sizes, config.seed, opts.data
    )
    training = TrainingResult(
        status={"pass": "pass", "error": "error", "skip": "missing"}.get(run.status, "fail"),
        corpus=CORPUS,
        splits=("train", "valid"),
        budget=config.budget,
        runs=(run,),
        baseline_loss=dummy.baseline_loss,
    )
    return training, [*checks_from_run(task, run, model), data_check]


def steps_for(opts: PositionalTrainingOptions, config: GraderConfig) -> int:
    """Optimiser steps for the configured budget: the assignment's table, else the budget's
    (for an epoch budget, its epochs over the training set in minibatches)."""
    if config.training_override is None and config.budget in opts.steps:
        return int(opts.steps[config.budget])
    epoch = math.ceil(opts.n_train / opts.batch_size)
    return config.training_budget.steps_for(epoch)


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
    same loop and budget (trusted code, run here; cached across submissions and on disk,
    `grader.reference_side`)."""
    arguments = (
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
    return reference_side.position_blind(arguments, lambda: _blind_loss(*arguments))


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
    opts: PositionalTrainingOptions,
    steps: int,
    blind: float,
    config: GraderConfig,
) -> TrainingRun:
    """Our loop on the candidate's model, driven by `grader.driver.drive`; the validation
    MSE measured here after every chunk."""
    driver = "reference_loop"
    trainer: list[Any] = []
    handle: list[Any] = []

    def evaluate() -> float:
        if not handle:  # built at the first evaluation, inside the driver's error handling
            worker.run("reseed", config.seed)
            values = model_values(task.seq_len, task.d_model, opts.n_heads)
            order = order_of(opts, PositionalTrainingOptions.init)
            handle.append(construct(worker, model, params_of(symbols, model), values, order))
        return validation_mse(worker, handle[0], task)

    def setup() -> None:
        trainer.append(
            worker.run(
                "positional_trainer",
                handle[0],
                task.train_x,
                task.train_y,
                opts.lr,
                opts.batch_size,
                config.seed,
            )
        )

    try:
        run = drive(
            steps=steps,
            eval_every=opts.eval_every,
            timeout_s=config.training_budget.timeout_s,
            evaluate=evaluate,
            advance=lambda first, count: worker.call_method(trainer[0], "steps", count),
            setup=setup,
            stop_on=(Violation, CandidateError),
        )
    except Interrupted as stop:
        cause = stop.cause
        if isinstance(cause, Violation):
            return TrainingRun(driver, "error", cause.message, steps=stop.steps, curve=stop.curve)
        what = "building or running" if not stop.curve else f"training (after {stop.steps} steps)"
        message = f"{what} your {model} raised {cause.summary()}"  # type: ignore[attr-defined]
        return TrainingRun(driver, "error", message, steps=stop.steps, curve=stop.curve)
    ms = run.ms_per_step
    status, message = verdict(run.before, run.last, task.baseline_loss, blind, opts.min_gain)
    if run.steps < steps and status != "fail":
        limit = config.training_budget.timeout_s
        message += f" (stopped by the {limit:.0f} s limit after {run.steps} of {steps} steps)"
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
        steps=run.steps,
        val_loss_before=run.before,
        val_loss_after=run.last,
        curve=run.curve,
        ms_per_batch=ms,
        tokens_per_s=None if not ms else round(opts.batch_size * task.seq_len / ms * 1000, 1),
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


def checks_from_run(task: str, run: TrainingRun, model: str | None) -> list[CheckResult]:
    """``<task>.runs`` and ``<task>.learns_positions`` from the run's verdict."""
    TASK = task
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
