"""One training driver for every kind that trains (the language model, the positional-encoding
model, a generic model of an interviewer's test).

A run alternates two things the kind supplies: ``advance(first, count)`` trains ``count``
steps in the worker and returns their training losses; ``evaluate()`` returns the validation
loss, which the kind computes in the grader from outputs the worker returned. The driver owns
what every run needs the same way: the deadline, the chunking (one evaluation per chunk, so
the curve has a point per ``eval_every`` steps), the stop on NaN or inf, the median
milliseconds per step on the grader's own clock, and the curve itself. Verdicts stay with
the kinds: what counts as learning differs between a language model and a regression.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from grader.result import CurvePoint


@dataclass(frozen=True)
class Drive:
    """What a run did."""

    curve: tuple[CurvePoint, ...]
    """Validation loss before training (step 0) and after every chunk, with the mean
    training loss of the chunk."""
    steps: int
    """Optimiser steps done."""
    planned: int
    """Optimiser steps asked for."""
    ms_per_step: float | None
    """Median milliseconds per step, measured by the grader around each chunk."""

    @property
    def before(self) -> float:
        return self.curve[0].val_loss  # type: ignore[return-value]

    @property
    def last(self) -> float:
        return self.curve[-1].val_loss  # type: ignore[return-value]

    @property
    def diverged(self) -> bool:
        """The run stopped on a NaN or inf loss."""
        point = self.curve[-1]
        return not all(math.isfinite(x) for x in (point.val_loss, point.train_loss or 0.0))

    @property
    def timed_out(self) -> bool:
        """The clock stopped the run, not a NaN."""
        return self.steps < self.planned and not self.diverged


class Interrupted(Exception):
    """The run stopped on an exception of the kind's ``stop_on`` types; ``cause`` is it, and
    ``steps`` and ``curve`` are the progress made before it."""

    def __init__(self, cause: BaseException, steps: int, curve: tuple[CurvePoint, ...]) -> None:
        super().__init__(str(cause))
        self.cause, self.steps, self.curve = cause, steps, curve


def drive(
    *,
    steps: int,
    eval_every: int,
    timeout_s: float,
    evaluate: Callable[[], float],
    advance: Callable[[int, int], Sequence[float]],
    setup: Callable[[], object] | None = None,
    stop_on: tuple[type[BaseException], ...] = (),
) -> Drive:
    """Evaluate, then (after ``setup``, e.g. building the optimiser in the worker) train in
    chunks of ``eval_every`` steps with an evaluation after each, until ``steps`` are done,
    the loss is not finite or ``timeout_s`` has passed. Exceptions of ``stop_on`` become
    `Interrupted`, carrying the progress made."""
    deadline = time.monotonic() + timeout_s
    curve: list[CurvePoint] = []
    step, step_ms = 0, []
    try:
        curve.append(CurvePoint(0, None, evaluate()))
        if setup is not None:
            setup()
        while step < steps and time.monotonic() < deadline:
            count = min(eval_every, steps - step)
            started = time.perf_counter()
            losses = advance(step, count)
            step_ms.append((time.perf_counter() - started) * 1000 / count)  # our clock
            step += count
            train_loss = sum(losses) / len(losses) if losses else float("nan")
            val = evaluate()
            curve.append(CurvePoint(step, train_loss, val))
            if not (math.isfinite(val) and math.isfinite(train_loss)):
                break  # diverged: the verdict says so, more steps would say nothing new
    except stop_on as exc:
        raise Interrupted(exc, step, tuple(curve)) from exc
    ms = sorted(step_ms)[len(step_ms) // 2] if step_ms else None
    return Drive(tuple(curve), step, steps, None if ms is None else round(ms, 2))
