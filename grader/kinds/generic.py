"""Kinds that need no Python from the interviewer: everything is declared in ``assignment.toml``
and compared against the assignment's own ``reference.py`` (run in the trusted worker).

- ``function``: the candidate's function against the reference's on drawn inputs;
- ``module``: the candidate's ``nn.Module`` against the reference's, weights copied across;
- ``training``: the candidate's model (and their own ``train()``, when the task names one)
  trained on data the reference generates, the held-out loss computed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from grader import kinds, loop_watch
from grader.checks import generic
from grader.checks.binding import bind
from grader.checks.generic import CallOptions, ModuleOptions
from grader.config import GraderConfig
from grader.driver import Drive, Interrupted, drive
from grader.kinds.base import Check, Kind, KindError, TaskRun, Trained
from grader.result import CheckResult, TrainingResult, TrainingRun
from grader.sandbox import CandidateError, WorkerError
from grader.trusted import ReferenceUnavailable


def _needs_reference(name: str, where: str, reference_names: frozenset[str] | None) -> None:
    if reference_names is None:
        raise KindError(f"{where}: names reference {name!r} but the assignment has no reference.py")
    if name not in reference_names:
        known = ", ".join(sorted(n for n in reference_names if not n.startswith("_"))) or "none"
        raise KindError(f"{where}: reference.py defines no {name!r}; it defines: {known}")


def _validate_call(opts: CallOptions, where: str, reference_names: frozenset[str] | None) -> None:
    _needs_reference(opts.reference, where, reference_names)
    if not opts.inputs:
        raise KindError(f"{where}: options.inputs declares no input")
    named = {d for spec in opts.inputs.values() for d in spec.shape if isinstance(d, str)}
    for axis in (*opts.equivariant, *([opts.batch_axis] if opts.batch_axis else [])):
        if axis not in named:
            raise KindError(f"{where}: {axis!r} is not a dimension of any input ({sorted(named)})")
        if opts.output is None or axis not in opts.output:
            raise KindError(f"{where}: {axis!r} needs options.output to name it too")
    for name, (low, high) in opts.dims.items():
        if not 1 <= low <= high:
            raise KindError(f"{where}: dims.{name} = [{low}, {high}] is not a range of sizes >= 1")


def _call_checks(opts: CallOptions, extra: tuple[Check, ...] = ()) -> tuple[Check, ...]:
    """The checks a function or module task runs with these options."""
    chosen = [Function.checks[0], Function.checks[1]]
    if opts.equivariant:
        chosen.append(Function.checks[2])
    if opts.batch_axis:
        chosen.append(Function.checks[3])
    if opts.large_inputs is not None:
        chosen.append(Function.checks[4])
    return (*chosen, *extra)


@kinds.register
class Function(Kind):
    name = "function"
    title = "a function compared with reference.py's on inputs drawn from a declared spec"
    Options = CallOptions
    symbol_kind = "function"
    checks = (
        Check("output_shape", "the output has the declared shape (or the reference's)"),
        Check("matches_reference", "equals the reference on every drawn input, within tolerance"),
        Check("equivariant", "permuting a declared axis of the inputs permutes the output alike"),
        Check("batch_independent", "a slice along the batch axis is computed independently"),
        Check("large_inputs_finite", "inputs of the declared magnitude give a finite output"),
    )

    def declared_checks(self, options: Any) -> tuple[Check, ...]:
        return _call_checks(options)

    def validate(self, options: Any, where: str, reference_names: frozenset[str] | None) -> None:
        _validate_call(options, where, reference_names)

    def check(self, run: TaskRun) -> list[CheckResult]:
        opts: CallOptions = run.options
        worker, symbol = run.worker, run.symbol

        def theirs(*inputs: torch.Tensor, **kwargs: Any) -> Any:
            return worker.call(symbol, *inputs, **kwargs)

        return generic.compared(run, opts, theirs, generic.Reference(run, opts.reference))


@kinds.register
class Module(Kind):
    name = "module"
    title = "an nn.Module compared with reference.py's, its weights randomised and copied across"
    Options = ModuleOptions
    symbol_kind = "class"
    checks = (
        *Function.checks,
        Check("every_parameter_matters", "changing any one parameter changes the output"),
    )

    def declared_checks(self, options: Any) -> tuple[Check, ...]:
        return _call_checks(options, (self.checks[-1],))

    def validate(self, options: Any, where: str, reference_names: frozenset[str] | None) -> None:
        _validate_call(options, where, reference_names)

    def check(self, run: TaskRun) -> list[CheckResult]:
        return generic.module_checks(run, run.options)


# --- training ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingOptions:
    """A model trained on data the reference generates."""

    data: str
    """The function of ``reference.py`` that makes the data: ``data(seed)`` returns
    ``(train_x, train_y, val_x, val_y)``; the validation targets never leave the grader."""
    init: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments of the model, by the handout's parameter names, in this order."""
    reference: str | None = None
    """The reference's model class, trained the same way as a baseline curve (optional)."""
    loss: Literal["mse", "cross_entropy"] = "mse"
    """The training and validation loss."""
    optimizer: Literal["adam", "sgd"] = "adam"
    """The optimiser of the grader's own loop."""
    lr: float = 1e-2
    """Its learning rate."""
    batch_size: int = 64
    """Its minibatch."""
    steps: dict[str, int] = field(default_factory=dict)
    """Optimiser steps per budget name (``quick = 300``); the budget's own steps otherwise."""
    eval_every: int = 25
    """Steps between two validation measurements."""
    min_drop: float = 0.5
    """The held-out loss must end at most (1 - min_drop) x where it started."""
    floor: float | None = None
    """The lowest held-out loss an honest model can reach (the noise in the data): ending
    further below it than ``floor_margin`` means the model sees the targets."""
    floor_margin: float = 0.0
    """How far below ``floor`` a loss may end before it counts as a leak."""
    loop: dict[str, Any] = field(default_factory=dict)
    """Values for the candidate's own ``train()`` by role (``epochs``, ``lr``, ``batch_size``);
    the model, inputs and targets are supplied by the grader."""
    epochs: int = 1
    """Epochs of the grader's loop that ``--budget full`` trains (one epoch: the training set
    once, in minibatches)."""


LOOP_ROLES: dict[str, tuple[str, ...]] = {
    "model": ("model", "net", "network", "module"),
    "x": ("x", "inputs", "input", "features", "data", "train_x", "x_train", "xs"),
    "y": ("y", "targets", "target", "labels", "train_y", "y_train", "ys"),
    "epochs": (
        "epochs",
        "n_epochs",
        "num_epochs",
        "steps",
        "n_steps",
        "num_steps",
        "iterations",
        "iters",
    ),
    "lr": ("lr", "learning_rate", "step_size"),
    "batch_size": ("batch_size", "bs", "batch"),
}
"""Parameter names of a ``train()`` and the role each one plays."""


@dataclass
class Data:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


@kinds.register
class Training(Kind):
    name = "training"
    title = "a model that trains on the reference's data until its held-out loss falls"
    Options = TrainingOptions
    symbol_kind = "class"
    parts = ("train",)
    trains = True
    checks = (
        Check("runs", "the model trains on the grader's loop without errors"),
        Check("loss_decreases", "the held-out loss falls by the declared share"),
        Check("not_too_good", "the held-out loss stays above the declared floor (no leak)"),
        Check("candidate_loop", "their own train() lowers the held-out loss too"),
        Check("gradients_reset", "their train() resets the gradients between optimiser steps"),
    )

    def declared_checks(self, options: Any) -> tuple[Check, ...]:
        return tuple(
            c for c in self.checks if c.name != "not_too_good" or options.floor is not None
        )

    def validate(self, options: Any, where: str, reference_names: frozenset[str] | None) -> None:
        _needs_reference(options.data, where, reference_names)
        if options.reference is not None:
            _needs_reference(options.reference, where, reference_names)
        if not 0 < options.min_drop < 1:
            raise KindError(f"{where}: min_drop must lie between 0 and 1, got {options.min_drop}")

    def train(self, run: TaskRun) -> Trained | None:
        if run.symbol is None:
            return None
        opts: TrainingOptions = run.options
        task, config = run.task.id, run.config
        try:
            data = reference_data(run, opts)
        except (ReferenceUnavailable, WorkerError, ValueError) as exc:
            text = exc.summary() if isinstance(exc, WorkerError) else str(exc)
            message = f"the assignment's data could not be made: {text}"
            return Trained(None, [CheckResult(f"{task}.runs", task, "skip", message)])
        steps = steps_for(opts, config, data.train_x.size(0))
        runs = [grader_loop(run, opts, data, steps, run.symbol, "reference_loop")]
        checks = verdicts(task, runs[0], opts, data)
        train_fn = run.part("train")
        if train_fn and train_fn in run.loaded:
            theirs, watch = candidate_loop(run, opts, data, train_fn)
            runs.append(theirs)
            checks += loop_verdicts(task, theirs, watch, opts, train_fn)
        if opts.reference is not None:
            runs.append(reference_run(run, opts, data, steps))
        statuses = [r.status for r in runs if r.driver != "reference_model"]
        result = TrainingResult(
            status="pass" if all(s == "pass" for s in statuses) else "fail",
            corpus=f"reference.{opts.data}",
            splits=("train", "valid"),
            budget=config.budget,
            runs=tuple(runs),
            baseline_loss=runs[0].val_loss_before,
            entropy_floor=opts.floor,
        )
        return Trained(result, checks)


def reference_data(run: TaskRun, opts: TrainingOptions) -> Data:
    """``data(seed)`` of reference.py, run in the trusted worker."""
    made = run.reference.get().call(opts.data, run.config.seed)
    if not (
        isinstance(made, (tuple, list))
        and len(made) == 4
        and all(isinstance(t, torch.Tensor) for t in made)
    ):
        raise ValueError(
            f"reference.{opts.data}(seed) must return (train_x, train_y, val_x, val_y) tensors"
        )
    return Data(*made)


def steps_for(opts: TrainingOptions, config: GraderConfig, train_size: int) -> int:
    if config.training_override is None and config.budget in opts.steps:
        return int(opts.steps[config.budget])
    budget = config.training_budget
    epoch = math.ceil(train_size / opts.batch_size)
    if budget.epochs is not None:
        return opts.epochs * epoch
    return budget.steps


def held_out_loss(worker: Any, model: Any, opts: TrainingOptions, data: Data) -> float:
    """The loss of the model's predictions for the validation inputs, computed here."""
    out = worker.run("predict", model, data.val_x)
    if not isinstance(out, torch.Tensor):  # a wrong value from the candidate's model
        raise ValueError(  # noqa: TRY004 - the driver stops a run on ValueError
            f"the model returned {type(out).__name__} for the validation inputs, not a tensor"
        )
    target = data.val_y
    if opts.loss == "mse":
        if out.shape != target.shape and out.numel() == target.numel():
            out = out.reshape(target.shape)  # (n, 1) predictions for (n,) targets
        if out.shape != target.shape:
            raise ValueError(
                f"the model returned {tuple(out.shape)} for {tuple(data.val_x.shape)} inputs; expected {tuple(target.shape)}"
            )
        return float(F.mse_loss(out.double(), target.double()))
    return float(F.cross_entropy(out.double(), target))


def grader_loop(
    run: TaskRun,
    opts: TrainingOptions,
    data: Data,
    steps: int,
    model_cls: str,
    driver: str,
    worker: Any = None,
) -> TrainingRun:
    """The grader's loop on a model of ``model_cls``, driven by `grader.driver.drive`."""
    worker = worker or run.worker
    config = run.config
    trainer: list[Any] = []
    model: list[Any] = []

    def evaluate() -> float:
        if not model:
            worker.run("reseed", config.seed)
            model.append(worker.new(model_cls, *opts.init.values()))
        return held_out_loss(worker, model[0], opts, data)

    def setup() -> None:
        trainer.append(
            worker.run(
                "generic_trainer",
                model[0],
                data.train_x,
                data.train_y,
                opts.loss,
                opts.optimizer,
                opts.lr,
                opts.batch_size,
                config.seed,
            )
        )

    try:
        result = drive(
            steps=steps,
            eval_every=opts.eval_every,
            timeout_s=config.training_budget.timeout_s,
            evaluate=evaluate,
            advance=lambda first, count: worker.call_method(trainer[0], "steps", count),
            setup=setup,
            stop_on=(CandidateError, ValueError),
        )
    except Interrupted as stop:
        cause = stop.cause
        text = cause.summary() if isinstance(cause, WorkerError) else str(cause)
        where = "building or running" if not stop.curve else f"training (after {stop.steps} steps)"
        return TrainingRun(
            driver,
            "error",
            f"{where} {model_cls} failed: {text}",
            steps=stop.steps,
            curve=stop.curve,
        )
    except WorkerError as exc:  # the worker died: a result, and a fresh worker for what follows
        worker.restart()
        return TrainingRun(
            driver, "error", f"training {model_cls} killed the worker: {exc.summary()}"
        )
    return finished(driver, result, opts, data)


def finished(driver: str, result: Drive, opts: TrainingOptions, data: Data) -> TrainingRun:
    status, message = verdict(result.before, result.last, opts)
    if result.timed_out:
        message += f" (stopped by the time limit after {result.steps} of {result.planned} steps)"
    return TrainingRun(
        driver,
        status,
        message,
        steps=result.steps,
        val_loss_before=result.before,
        val_loss_after=result.last,
        curve=result.curve,
        ms_per_batch=result.ms_per_step,
        tokens_per_s=None
        if not result.ms_per_step
        else round(opts.batch_size / result.ms_per_step * 1000, 1),
    )


def verdict(before: float, after: float, opts: TrainingOptions) -> tuple[str, str]:
    """Pass when the held-out loss fell by the declared share and stayed above the floor."""
    if not math.isfinite(after):
        return (
            "fail",
            f"the held-out {opts.loss} became {after}: training diverged or the model produces NaN",
        )
    needed = (1 - opts.min_drop) * before
    numbers = f"held-out {opts.loss} {before:.4g} -> {after:.4g}"
    if opts.floor is not None and after < opts.floor - opts.floor_margin:
        return "fail", (
            f"{numbers}: below {opts.floor:.4g}, the lowest loss an honest model can reach on this "
            "data (its noise): the model sees the targets"
        )
    if after > needed:
        return (
            "fail",
            f"{numbers}: it had to end at most {needed:.4g} ({1 - opts.min_drop:.0%} of the start)",
        )
    return (
        "pass",
        f"{numbers}: it fell to {after / before:.0%} of the start (needed at most {1 - opts.min_drop:.0%})",
    )


def verdicts(task: str, ours: TrainingRun, opts: TrainingOptions, data: Data) -> list[CheckResult]:
    ran = ours.status != "error"
    leak = opts.floor is not None and "sees the targets" in ours.message
    checks = [
        CheckResult(
            f"{task}.runs",
            task,
            "pass" if ran else "error",
            "your model trains on the grader's loop without errors" if ran else ours.message,
        ),
        CheckResult(
            f"{task}.loss_decreases",
            task,
            ("pass" if ours.status == "pass" or leak else "fail") if ran else "error",
            ours.message,
            None
            if ours.status == "pass"
            else {"loss_before": ours.val_loss_before, "loss_after": ours.val_loss_after},
        ),
    ]
    if opts.floor is not None:
        checks.append(
            CheckResult(
                f"{task}.not_too_good",
                task,
                "fail" if leak else ("pass" if ran else "skip"),
                ours.message
                if leak
                else f"the held-out loss stays above {opts.floor:.4g}, the data's noise",
            )
        )
    return checks


def candidate_loop(
    run: TaskRun, opts: TrainingOptions, data: Data, train_fn: str
) -> tuple[TrainingRun, list[dict[str, Any]]]:
    """Their own ``train()`` on a fresh model and our training data, watched step by step
    (`generic_recipes.LoopWatch`); the held-out loss before and after computed here."""
    worker, config = run.worker, run.config
    values = {"x": data.train_x, "y": data.train_y, **opts.loop}
    try:
        worker.run("reseed", config.seed)
        model = worker.new(run.symbol, *opts.init.values())
        values["model"] = model
        bound = bind(
            run.loaded[train_fn].params, values, order=("model", "x", "y"), roles=LOOP_ROLES
        )
        if isinstance(bound, str):
            return TrainingRun(
                "candidate_loop", "skip", f"your {train_fn}() cannot be called: {bound}"
            ), []
        before = held_out_loss(worker, model, opts, data)
        watch = worker.run("watch_loop", model)
        worker.call(train_fn, *bound[0], **bound[1], _timeout=config.training_budget.timeout_s)
        steps = worker.call_method(watch, "report")
        after = held_out_loss(worker, model, opts, data)
    except CandidateError as exc:
        return TrainingRun(
            "candidate_loop", "error", f"your {train_fn}() failed: {exc.summary()}"
        ), []
    except WorkerError as exc:
        worker.restart()
        return TrainingRun(
            "candidate_loop", "error", f"your {train_fn}() killed the worker: {exc.summary()}"
        ), []
    except ValueError as exc:
        return TrainingRun("candidate_loop", "error", str(exc)), []
    status, message = verdict(before, after, opts)
    return (
        TrainingRun(
            "candidate_loop",
            status,
            f"your {train_fn}() took {len(steps)} optimiser steps: {message}",
            steps=len(steps),
            val_loss_before=before,
            val_loss_after=after,
        ),
        steps,
    )


def loop_verdicts(
    task: str,
    theirs: TrainingRun,
    steps: list[dict[str, Any]],
    opts: TrainingOptions,
    train_fn: str,
) -> list[CheckResult]:
    checks = [CheckResult(f"{task}.candidate_loop", task, theirs.status, theirs.message)]
    checks.append(
        CheckResult(f"{task}.gradients_reset", task, *loop_watch.gradients_reset(steps, train_fn))
    )
    return checks


def reference_run(run: TaskRun, opts: TrainingOptions, data: Data, steps: int) -> TrainingRun:
    """The reference model on the same loop, data and budget, in the trusted worker: the
    baseline curve the report draws beside the candidate's."""
    assert opts.reference is not None
    try:
        worker = run.reference.get()
    except ReferenceUnavailable as exc:
        return TrainingRun("reference_model", "error", str(exc))
    return grader_loop(run, opts, data, steps, opts.reference, "reference_model", worker=worker)
