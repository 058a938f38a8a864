"""Time the candidate's code against the reference: interleaved rounds, a clock out of reach.

What is timed is up to the kinds (`grader.kinds`): a timed kind builds one `Item` per task,
the candidate's side and the reference's doing the same work (a forward and backward pass of
a function or module, or one training step of a model, which also gives the report its
ms/batch and tokens/s). This module only measures; it knows no task by name.

How, and why this way (DESIGN.md, "The trust boundary"):

- The reference runs in a sandboxed worker of its own, loaded from the trusted reference
  sources and never shown candidate code. One worker for both would let a submission
  patch torch (or find the reference's functions) and slow the reference down, and would
  make the reference importable by candidate code, which the trust boundary forbids. Both
  workers have the same limits and one thread each, so they run under the same conditions.
- Rounds alternate between the two workers, candidate then reference, the order flipped
  every repeat, so a change in the machine's load falls on both alike. A round is one
  request running many calls, calibrated per side (after a warm-up call) to last at least
  ``min_round_s``, so the clock's resolution and the round trip (~0.2 ms) are small beside
  it. The result is the median milliseconds per call with the inter-quartile range.
- The clock is the grader's: it reads the worker process's CPU time from outside (Linux's
  per-process CPU clock, every thread included) before and after each round. A submission
  can replace ``time.perf_counter`` in its process; it cannot change what the kernel counts.
  CPU time rather than wall time, because on a shared machine the wall clock counts the
  time other processes hold the cores (on two busy cores, 11 ms of wall per 3 ms call),
  and threads a submission leaves spinning while the reference is measured would count
  against the reference. On CUDA (kernels do not run on the CPU clock), or where the CPU
  clock cannot be read, the grader's wall clock around the request is used instead; the
  report says which.
- Every output produced while timing is checked: a round's receipt carries its last call's
  output, and an item's ``compare`` judges each of the candidate's against the truth on the
  same inputs (the reference's output, or the reference computed in the grader with the
  candidate's own weights). Code that notices it is being timed and returns something cheap
  of the right shape loses the item's speed credit and fails ``<task>.timed_output_matches``
  (`TIMED_OUTPUT_CHECK`). The recipe's module and name are neutral (``gradient_recipes``,
  ``forward_backward``), so the call stack does not announce the phase either.

Residual risk: the loop that makes the calls (``gradient_recipes.py``, ``Trainer.steps``) runs
in the candidate's process, so code there could replace it and do fewer calls than asked,
and a function that memoises its output on its inputs would get the repeated calls of a
round for free. The grader checks each round's receipt (the output's shape, gradients
reaching the inputs, the output itself, one loss per training step) but cannot count calls
it does not see, and a training step's losses are not compared (the two models start from
different weights);
such code has to reach into the worker's own modules or cache outputs, which a reader sees
at once. Threads a submission leaves busy still slow the reference's CPU time somewhat
(shared caches and cores: +25 % measured on two overloaded cores, while the same threads
cost the submission itself more); on CUDA, kernels left running on the device can slow
the reference's rounds.
"""

from __future__ import annotations

import ctypes
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from grader.config import GraderConfig
from grader.result import CheckResult, Timing
from grader.sandbox import CandidateError, Handle, Sandbox, WorkerError
from grader.sandbox.isolation import processes_of_uid
from grader.trusted import LazyReference, ReferenceUnavailable

MIN_REPEATS = 3
"""Repeats every item gets, however slow: three rounds still give a median."""
ITEM_BUDGET_S = 2.5
"""After this many seconds of an item's repeats (and MIN_REPEATS), stop: a very slow
submission costs seconds here, not minutes, and its band is already clear."""
MAX_CALLS = 10_000
"""Most calls in one round, whatever the calibration says."""
CPU_CLOCK = "the workers' CPU time, read by the grader"
WALL_CLOCK = "the grader's wall clock around each request"

Clock = Callable[[], float]


class NotTimed(Exception):
    """An item that cannot be timed; the message says why, for the report."""


class WrongWhileTimed(NotTimed):
    """The candidate's output while timed is not what the same inputs must give."""


TIMED_OUTPUT_CHECK = "timed_output_matches"
"""The check (``<task>.timed_output_matches``) a task fails when its output while timed is
wrong; added to the task's checks only then, so an honest submission's checks are unchanged."""


@dataclass(frozen=True)
class Throughput:
    """Training speed of both models at the handout's batch, from the training-step timing."""

    candidate_ms_per_batch: float
    reference_ms_per_batch: float
    candidate_tokens_per_s: float
    reference_tokens_per_s: float


@dataclass(frozen=True)
class TimingReport:
    """What `measure` found: the timings, what could not be timed and why, and the clock."""

    timings: tuple[Timing, ...]
    skipped: tuple[str, ...]
    """One sentence per task not timed, e.g. ``<task>: not timed: your <symbol> raised
    ValueError: ...``."""
    throughput: Throughput | None
    """From the training step, when it was timed."""
    clock: str
    """Which clock the timings are on (``CPU_CLOCK`` or ``WALL_CLOCK``)."""
    checks: tuple[CheckResult, ...] = ()
    """Failed ``<task>.timed_output_matches`` checks, for the tasks' own check lists."""

    @property
    def evidence(self) -> tuple[str, ...]:
        """Lines for the optimisation criterion's evidence."""
        lines = list(self.skipped)
        if self.timings:
            lines.insert(0, f"timed against the reference in alternating rounds, on {self.clock}")
        if self.throughput is not None:
            t = self.throughput
            lines.append(
                f"training step: {t.candidate_ms_per_batch:.1f} ms/batch ({t.candidate_tokens_per_s:,.0f} tokens/s) "
                f"vs reference {t.reference_ms_per_batch:.1f} ms/batch ({t.reference_tokens_per_s:,.0f} tokens/s)"
            )
        return tuple(lines)


@dataclass(frozen=True)
class Side:
    """One contestant of an item: its worker, how to run a round there, and the check of
    the round's receipt (a sentence when something is wrong with it)."""

    who: str
    """``your <symbol>``, ``the reference model``: the subject of the report's sentences."""
    worker: Sandbox
    run: Callable[[int], Any]
    check: Callable[[Any, int], str | None]
    handles: tuple[Handle, ...] = ()
    """Objects made for the item, released after it."""


@dataclass(frozen=True)
class Item:
    """One thing timed: the candidate's side and the reference's, doing the same work."""

    name: str
    candidate: Side
    reference: Side
    tokens: int | None = None
    """Tokens one call processes, for an item that is a training step: its timing then
    gives the report's ms/batch and tokens/s."""
    compare: Callable[[Any, Any], str | None] | None = None
    """(a candidate receipt, a reference receipt) -> what is wrong with the candidate's
    output on the item's inputs, or None; run on every receipt the candidate's rounds give."""


Builder = Callable[[Sandbox], Item]
"""Builds a task's item, given the started reference worker."""


# --- the entry point -----------------------------------------------------------------------


def measure(
    worker: Sandbox,
    items: Sequence[tuple[str, Builder | None]],
    config: GraderConfig,
    reference: LazyReference,
) -> TimingReport:
    """Time each task's item against the reference, in order.

    :param worker: the candidate's worker, with the submission loaded.
    :param items: (task id, builder) per timed task; None for a task whose code is missing or
        wrong (a wrong result has no speed worth comparing).
    :param reference: the trusted reference worker, started here on first need.
    """
    if not items:
        return TimingReport((), ("no timings are defined for this assignment",), None, "none")
    skipped = [
        f"{task}: not timed: missing, or its checks fail (a wrong result has no speed worth comparing)"
        for task, build in items
        if build is None
    ]
    present = [(task, build) for task, build in items if build is not None]
    if not present:
        return TimingReport((), tuple(skipped), None, "none")
    timings: list[Timing] = []
    wrong: list[CheckResult] = []
    throughput, clocks_used = None, []
    try:
        trusted = reference.get()
        for task, build in present:
            try:
                item = build(trusted)
                timing, clock = time_item(item, config)
            except WrongWhileTimed as reason:
                skipped.append(f"{task}: not timed: {reason}")
                wrong.append(wrong_while_timed(task, str(reason)))
                continue
            except NotTimed as reason:
                skipped.append(f"{task}: not timed: {reason}")
                continue
            timings.append(timing)
            clocks_used.append(clock)
            if item.tokens:
                throughput = throughput_of(timing, item.tokens)
    except (
        WorkerError,
        NotTimed,
        ReferenceUnavailable,
    ) as exc:  # the reference could not start, or a restart failed
        reason = exc.summary() if isinstance(exc, WorkerError) else str(exc)
        skipped.append(f"timing stopped after {len(timings)} of {len(present)} items: {reason}")
    clock = " and ".join(sorted(set(clocks_used))) or "none"
    return TimingReport(tuple(timings), tuple(skipped), throughput, clock, tuple(wrong))


def wrong_while_timed(task: str, reason: str) -> CheckResult:
    return CheckResult(
        f"{task}.{TIMED_OUTPUT_CHECK}",
        task,
        "fail",
        f"While it was timed, {reason}. Outside the timing it passed its checks, so the code "
        "behaves differently when timed: it gets no speed credit.",
    )


def throughput_of(step: Timing, tokens: int) -> Throughput:
    return Throughput(
        candidate_ms_per_batch=round(step.candidate_ms, 2),
        reference_ms_per_batch=round(step.reference_ms, 2),
        candidate_tokens_per_s=round(tokens / step.candidate_ms * 1000, 1),
        reference_tokens_per_s=round(tokens / step.reference_ms * 1000, 1),
    )


# --- one item: warm up, calibrate, interleave ----------------------------------------------


def time_item(item: Item, config: GraderConfig) -> tuple[Timing, str]:
    """Time one item: a warm-up round per side, calls per round calibrated per side, then
    the interleaved repeats. Returns the timing and the clock it was measured on."""
    sides = (item.candidate, item.reference)
    receipts: tuple[list[Any], list[Any]] = ([], [])
    try:
        clocks, clock_name = worker_clocks(config.device, [s.worker for s in sides])
        rounds = [
            partial(timed_round, side, clock, kept=kept)
            for side, clock, kept in zip(sides, clocks, receipts, strict=True)
        ]
        for run in rounds:
            run(1)  # first calls allocate, initialise lazily and fill caches: not timed
        calls = [calibrate(run, config.timing.min_round_s) for run in rounds]
        candidate, reference = (
            partial(ms_per_call, run, n) for run, n in zip(rounds, calls, strict=True)
        )
        candidate_ms, reference_ms = interleave(
            candidate, reference, config.timing.repeats, ITEM_BUDGET_S
        )
        for receipt in receipts[0] if item.compare is not None else ():
            problem = item.compare(receipt, receipts[1][0])
            if problem is not None:
                raise WrongWhileTimed(f"{item.candidate.who} {problem}")
    finally:
        release(sides)
    return Timing(
        item.name,
        statistics.median(candidate_ms),
        statistics.median(reference_ms),
        iqr(candidate_ms),
        iqr(reference_ms),
    ), clock_name


def timed_round(side: Side, clock: Clock, calls: int, kept: list[Any] | None = None) -> float:
    """Seconds one round of ``calls`` calls took on ``clock``, once its receipt is checked;
    the receipt is appended to ``kept`` (for the item's output comparison)."""
    try:
        start = clock()
        receipt = side.run(calls)
        seconds = clock() - start
    except CandidateError as exc:
        raise NotTimed(f"{side.who} raised {exc.summary().removeprefix('error: ')}") from None
    except WorkerError as exc:
        if not side.worker.alive:
            side.worker.restart()  # so the next item has a worker (raises if it cannot start)
        raise NotTimed(f"{side.who} could not be run: {exc.summary()}") from None
    except OSError as exc:  # the process behind the clock is gone
        raise NotTimed(f"the clock of {side.who}'s worker could not be read: {exc}") from None
    problem = side.check(receipt, calls)
    if problem is not None:
        raise NotTimed(f"{side.who}: {problem}")
    if kept is not None:
        kept.append(receipt)
    return seconds


def ms_per_call(run: Callable[[int], float], calls: int) -> float:
    """One round of ``calls`` calls, in milliseconds per call."""
    return run(calls) / calls * 1000


def calibrate(run: Callable[[int], float], min_round_s: float) -> int:
    """Calls per round so that one round of ``run(calls)`` (seconds) lasts ``min_round_s``."""
    calls = 1
    while True:
        seconds = run(calls)
        if seconds >= min_round_s or calls >= MAX_CALLS:
            return calls
        # Aim 20 % past the target, so a slightly quicker round still reaches it; grow at
        # most tenfold a step, since a very short round is a noisy estimate.
        wanted = math.ceil(calls * 1.2 * min_round_s / max(seconds, 1e-9))
        calls = min(MAX_CALLS, calls * 10, max(calls + 1, wanted))


def interleave(
    candidate: Callable[[], float], reference: Callable[[], float], repeats: int, budget_s: float
) -> tuple[list[float], list[float]]:
    """Alternate the two sides' rounds, the order flipped every repeat (candidate first on
    even repeats), so neither always runs on the heels of the other. Stops early after
    ``MIN_REPEATS`` once ``budget_s`` is spent."""
    results: tuple[list[float], list[float]] = ([], [])
    started = time.monotonic()
    for repeat in range(repeats):
        if repeat >= MIN_REPEATS and time.monotonic() - started > budget_s:
            break
        order = (0, 1) if repeat % 2 == 0 else (1, 0)
        for side in order:
            results[side].append((candidate, reference)[side]())
    return results


def iqr(values: Sequence[float]) -> float:
    """Inter-quartile range (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q3 - q1


def release(sides: Sequence[Side]) -> None:
    """Let the workers forget the item's objects (a shared reference worker would grow)."""
    for side in sides:
        if side.handles and side.worker.alive:
            try:
                side.worker.release(*side.handles)
            except WorkerError:
                pass  # a worker that fails now fails the next request, which reports it


# --- clocks --------------------------------------------------------------------------------


def worker_clocks(device: str, workers: Sequence[Sandbox]) -> tuple[list[Clock], str]:
    """One clock per worker, all of the same kind: CPU time on the CPU, else wall time."""
    if device == "cpu":
        try:
            return [cpu_clock(w) for w in workers], CPU_CLOCK
        except OSError:
            pass  # no uid of its own to find it by, or no per-process CPU clock here
    return [time.perf_counter for _ in workers], WALL_CLOCK


def cpu_clock(worker: Sandbox) -> Clock:
    """CPU seconds used so far by the worker's processes (all their threads, ended ones
    included), read through the kernel's per-process CPU clocks."""
    uid = worker.info.uid
    if uid is None:
        raise OSError("the worker runs under a shared uid; its process cannot be told apart")
    pids = processes_of_uid(uid)  # the worker alone: it may not start processes
    if not pids:
        raise OSError("the worker's process was not found")
    ids = [cpu_clock_id(pid) for pid in pids]
    return lambda: sum(time.clock_gettime(i) for i in ids)


def cpu_clock_id(pid: int) -> int:
    """The clock id of process ``pid``'s CPU time (clock_getcpuclockid(3))."""
    libc = ctypes.CDLL(None, use_errno=True)
    clock_id = ctypes.c_int()  # clockid_t
    error = libc.clock_getcpuclockid(pid, ctypes.byref(clock_id))
    if error:
        raise OSError(error, os.strerror(error))
    return clock_id.value


# --- what is timed -------------------------------------------------------------------------

FORWARD_BACKWARD = "forward_backward"
"""The recipe that runs ``n`` forward and backward passes of a function or module
(``grader/sandbox/gradient_recipes.py``); its receipt holds the last call's output."""


def same_output(rtol: float, atol: float) -> Callable[[Any, Any], str | None]:
    """An item's ``compare`` for a function timed on the same inputs as the reference's:
    the last outputs of both must agree."""

    def compare(theirs: Any, ours: Any) -> str | None:
        got, expected = theirs.get("output"), ours.get("output")
        if not isinstance(got, torch.Tensor) or not isinstance(expected, torch.Tensor):
            return "returned no output tensor to compare"
        if got.shape != expected.shape or not torch.allclose(
            got.double(), expected.double(), rtol=rtol, atol=atol
        ):
            return "returned an output that differs from the reference's on the same inputs" + (
                f" (by up to {float((got.double() - expected.double()).abs().nan_to_num(float('inf')).max()):.3g})"
                if got.shape == expected.shape
                else ""
            )
        return None

    return compare


def output_check(shape: tuple[int, ...]) -> Callable[[Any, int], str | None]:
    """The check of a forward-backward round's receipt."""

    def check(receipt: Any, calls: int) -> str | None:
        if not isinstance(receipt, dict) or receipt.get("shape") != list(shape):
            got = receipt.get("shape") if isinstance(receipt, dict) else receipt
            return f"its output has shape {got}, not {list(shape)}: the timing would not compare like with like"
        if receipt.get("gradients") is not True:
            return "the backward pass did not reach its inputs (an output cut from the graph is cheaper, not faster)"
        return None

    return check


def built(worker: Sandbox, make: Callable[[], Any], what: str) -> Any:
    """``make()`` in the candidate's worker, where a failure means the item cannot be timed
    (and a worker killed by it is restarted for the next item)."""
    try:
        return make()
    except CandidateError as exc:
        raise NotTimed(f"{what} raised {exc.summary().removeprefix('error: ')}") from None
    except WorkerError as exc:
        if not worker.alive:
            worker.restart()
        raise NotTimed(f"{what} failed: {exc.summary()}") from None
