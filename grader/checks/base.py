"""The machinery every property check shares.

A property is a function of Hypothesis-drawn values that calls the candidate through the
worker and judges the outputs here, in the grader. It signals a violated property by
raising `Violation` with a counterexample in plain values; Hypothesis shrinks it, and
`run_property` turns the outcome into one `CheckResult`.

Runs are derandomized and keep no example database, so grading a submission twice gives
the same verdicts. A worker that dies during a property is not asked again while
Hypothesis shrinks: the same error is replayed, and the worker is restarted afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import hypothesis
import hypothesis.errors
import torch
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from grader.config import GraderConfig
from grader.result import CheckResult
from grader.sandbox import CandidateError, WorkerError, WorkerTimeout

if TYPE_CHECKING:
    from grader.assignment import TaskSpec


class Violation(AssertionError):
    """A property does not hold: ``message`` says what, ``counterexample`` shows it."""

    def __init__(self, message: str, **counterexample: Any) -> None:
        super().__init__(message)
        self.message = message
        self.counterexample = counterexample


class NotApplicable(Exception):
    """The check cannot run for this submission (the reason is the message)."""


@dataclass
class SuiteContext:
    """What a kind's hooks need: the worker, the task and its options, the symbols resolved
    for every task, facts shared between tasks, the settings, and a trusted reference worker.
    (`grader.kinds.base.TaskRun` is this type.)"""

    worker: Any
    """The `grader.sandbox` client connected to this submission's worker."""
    task: TaskSpec
    """The assignment's task being graded."""
    symbol: str | None
    """The candidate's symbol resolved for the task (None when built inline or missing)."""
    config: GraderConfig
    """Budget, seed and thresholds."""
    symbols: dict[str, str | None] = field(default_factory=dict)
    """Task id -> the candidate's symbol for every task (a block's checks need the
    attention class, etc.; find them with `symbol_of_kind`)."""
    shared: dict[str, Any] = field(default_factory=dict)
    """Facts one task's hooks learn for another's (the candidate's mask convention, the
    model's layout); ``shared["symbols"]`` is what the worker loaded, name -> ``SymbolInfo``."""
    assignment: Any = None
    """The `grader.assignment.Assignment` being graded."""
    kinds: dict[str, str] = field(default_factory=dict)
    """Task id -> kind name, for every task of the assignment."""
    parts: dict[str, dict[str, str | None]] = field(default_factory=dict)
    """Task id -> its parts resolved (role -> the candidate's function, e.g. ``train``)."""
    reference: Any = None
    """A `grader.trusted.LazyReference`: the trusted worker, started on first use."""
    say: Callable[[str], None] = lambda stage: None
    """Progress: the stage that begins."""

    @property
    def examples(self) -> int:
        return self.config.checks.examples

    @property
    def options(self) -> Any:
        """The task's options (the kind's options dataclass)."""
        return self.task.options

    @property
    def loaded(self) -> dict[str, Any]:
        """What the worker loaded: name -> ``SymbolInfo`` (parameters, kind)."""
        return self.shared.get("symbols", {})

    def for_task(self, task: TaskSpec) -> SuiteContext:
        """The same context for another task of the assignment."""
        return dataclasses.replace(self, task=task, symbol=self.symbols.get(task.id))

    def tasks_of_kind(self, kind: str) -> list[TaskSpec]:
        """The assignment's tasks of ``kind``, in order."""
        tasks = self.assignment.tasks if self.assignment is not None else ()
        return [t for t in tasks if self.kinds.get(t.id) == kind]

    def symbol_of_kind(self, kind: str) -> str | None:
        """The candidate's symbol for the first task of ``kind`` (None when there is none)."""
        return next((self.symbols.get(t.id) for t in self.tasks_of_kind(kind)), None)

    def part(self, role: str, task_id: str | None = None) -> str | None:
        """The candidate's function for ``role`` of a task (this one by default)."""
        return self.parts.get(task_id or self.task.id, {}).get(role)


def hypothesis_settings(examples: int) -> settings:
    """Derandomized, database-free settings so the same submission gets the same verdict."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )


def run_property(
    ctx: SuiteContext,
    name: str,
    strategy: st.SearchStrategy[Any],
    body: Callable[[Any], None],
    *,
    passed: str,
    criterion: str = "completion",
    examples: int | None = None,
) -> CheckResult:
    """Run ``body`` on examples drawn from ``strategy`` and report the shrunk failure.

    ``passed`` is the sentence shown when the property holds; a failing example carries its
    own message (from `Violation`) or the candidate's exception.
    """
    full_name = f"{ctx.task.id}.{name}"
    n_examples = examples or ctx.examples
    hanging = ctx.shared.get("hanging", {}).get(ctx.task.id)
    if hanging is not None:  # each check would wait as long again: one hang is enough
        return CheckResult(
            full_name, ctx.task.id, "skip", f"not run: {hanging}", criterion=criterion
        )
    started = time.perf_counter()
    dead: list[WorkerError] = []
    count = 0
    last_example: Any = None

    def guarded(example: Any) -> None:
        nonlocal count, last_example
        count += 1
        last_example = example  # Hypothesis replays the shrunk example last: the one to report
        if dead:  # never ask a killed worker again while Hypothesis shrinks
            raise dead[0]
        try:
            # Same weights and dropout draws on every replay, so shrinking is not flaky.
            ctx.worker.run("reseed", ctx.config.seed)
            body(example)
        except WorkerError as exc:
            if not isinstance(exc, CandidateError):
                dead.append(exc)
            raise
        except (Violation, NotApplicable):
            raise
        except Exception as exc:
            # e.g. a tensor-like object that is not a tensor: a failure of the candidate's
            # code, never a crash of the grader.
            raise Violation(
                f"what your code returned could not be judged ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); a tensor was expected"
            ) from exc

    test = hypothesis.given(strategy)(guarded)
    test = hypothesis_settings(n_examples)(test)
    limit = ctx.config.sandbox.check_call_timeout_s
    limited = getattr(ctx.worker, "calls_limited", None)
    try:
        with limited(limit) if limited is not None else contextlib.nullcontext():
            test()
        status, message, counterexample = "pass", passed, None
    except Violation as exc:
        status, message, counterexample = "fail", exc.message, exc.counterexample
    except NotApplicable as exc:
        status, message, counterexample = "skip", str(exc), None
    except CandidateError as exc:
        status = "error"
        message = f"Your code raised {raised(exc)}"
        counterexample = {
            **example_facts(last_example),
            "error": raised(exc),
            "traceback": exc.traceback,
        }
    except WorkerTimeout as exc:
        status, message, counterexample = "error", exc.summary(), None
        what = f"`{ctx.symbol}`" if ctx.symbol else "this task's code"
        ctx.shared.setdefault("hanging", {})[ctx.task.id] = (
            f"{what} did not return within {limit:g} s in {full_name}: it hangs, so its other "
            "checks were skipped"
        )
    except WorkerError as exc:
        status, message, counterexample = "error", exc.summary(), None
    except (hypothesis.errors.Flaky, BaseExceptionGroup) as exc:
        status = "error"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = (
            "the same input gave different outcomes on replay: your code is not deterministic "
            f"({first[:160]})"
        )
        counterexample = None
    if dead:
        ctx.worker.restart()
    return CheckResult(
        name=full_name,
        task=ctx.task.id,
        status=status,
        message=message,
        counterexample=counterexample,
        criterion=criterion,
        examples=count,
        duration_s=round(time.perf_counter() - started, 3),
    )


def raised(exc: CandidateError) -> str:
    """``Type: first line of the message``, as a candidate reads an exception."""
    lines = exc.message.strip().splitlines()
    return f"{exc.type}: {lines[0][:200]}" if lines else exc.type


def example_facts(example: Any) -> dict[str, Any]:
    """The inputs of an example in plain values (shapes, seeds), for a counterexample."""
    if example is None:
        return {}
    if hasattr(example, "describe"):
        return dict(example.describe())
    if isinstance(example, tuple):  # e.g. (shape, cut position): the shape's facts, then the rest
        facts = {
            k: v
            for part in example
            if hasattr(part, "describe")
            for k, v in part.describe().items()
        }
        rest = [part for part in example if not hasattr(part, "describe")]
        if rest:
            facts["drawn_with"] = rest[0] if len(rest) == 1 else rest
        return facts
    return {"input": example}


def run_probe(
    ctx: SuiteContext,
    name: str,
    body: Callable[[], str | None],
    *,
    passed: str,
    criterion: str = "completion",
) -> CheckResult:
    """Run one deterministic probe (no search). ``body`` raises `Violation` on failure and
    may return a pass message that replaces ``passed`` (e.g. to name what it identified)."""
    said: list[str] = []

    def once(_: None) -> None:
        message = body()
        if message:
            said.append(message)

    result = run_property(
        ctx, name, st.just(None), once, passed=passed, criterion=criterion, examples=1
    )
    if result.status == "pass" and said:
        result = dataclasses.replace(result, message=said[-1])
    return result


# --- tensors ---------------------------------------------------------------------------


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, treating matching NaNs as equal and NaN vs number as inf."""
    a64, b64 = a.detach().double(), b.detach().double()
    both_nan = a64.isnan() & b64.isnan()
    diff = (a64 - b64).abs().masked_fill(both_nan, 0.0)
    diff = diff.nan_to_num(nan=float("inf"))
    return float(diff.max()) if diff.numel() else 0.0


LEAK_TOLERANCE: dict[torch.dtype, float] = {torch.float64: 1e-12, torch.float32: 1e-6}
"""Largest change allowed at positions <= t when only inputs after t change. A causal
computation gives a masked key a weight of exactly 0 (exp(-inf), or exp(-1e9) underflowing)
and the same shapes take the same kernels on one thread, so an honest output does not move
at all. Real leaks can be small on the smallest (shrunk) inputs: about 1e-9 in float64 for
the catalogue's inverted mask seen through an encoder block."""


def assert_no_leak(
    moved: torch.Tensor,
    t: int,
    dtype: torch.dtype,
    subject: str,
    hint: str = "",
    inputs: str = "inputs",
    **context: Any,
) -> None:
    """Raise `Violation` when ``moved`` (t+1,), the largest change at each position <= t after
    the inputs after t were perturbed, shows a position that saw the future."""
    tolerance = LEAK_TOLERANCE.get(dtype, 1e-4)
    if not (bool((moved > tolerance).any()) or bool(moved.isnan().any())):
        return
    position = int(moved.nan_to_num(float("inf")).argmax())
    raise Violation(
        f"{subject} at position {position} changed by {float(moved[position]):.3g} when only {inputs} after "
        f"position {t} changed: position {position} sees the future{hint}",
        leaked_position=position,
        perturbed_after=t,
        max_difference=float(moved.max()),
        tolerance=tolerance,
        **context,
    )


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """PyTorch's own default (rtol, atol) for ``dtype`` (as torch.testing.assert_close uses)."""
    return {
        torch.float16: (1e-3, 1e-5),
        torch.bfloat16: (1.6e-2, 1e-5),
        torch.float32: (1.3e-6, 1e-5),
        torch.float64: (1e-7, 1e-7),
    }[dtype]


LOWER_PRECISION_FACTOR = 8.0
"""Safety factor of the lower-precision bound (`lower_precision_bound`): rounding errors of a
sum of k terms grow like sqrt(k) eps in practice and k eps at worst (Higham, "Accuracy and
Stability of Numerical Algorithms", 2002, ch. 3); 8 sqrt(k) eps covers the practical case with
room, while every bug the catalogue carries is off by 1e-3 or more."""


def lower_precision_bound(
    expected: torch.Tensor, reduction: int, dtype: torch.dtype = torch.float32
) -> float:
    """The absolute error a correct computation of ``expected`` may make when some of it runs in
    ``dtype`` (float32 by default: a softmax upcast to float32 and cast back, as fairseq and
    Hugging Face do, or a whole float32 path), for a result built from sums of ``reduction``
    terms: ``LOWER_PRECISION_FACTOR * sqrt(reduction) * eps(dtype) * max|expected|`` (with
    ``max|expected|`` at least 1, since intermediate values such as attention weights are of
    order 1 whatever the output's scale)."""
    eps = torch.finfo(dtype).eps
    scale = (
        max(1.0, float(expected.detach().abs().nan_to_num(0.0).max())) if expected.numel() else 1.0
    )
    return LOWER_PRECISION_FACTOR * math.sqrt(max(1, reduction)) * eps * scale


def digits(got: float, wanted: float) -> tuple[str, str]:
    """``got`` and ``wanted`` printed with just enough significant digits to tell them apart
    (at most 17): a message must never say "-2.11628 instead of -2.11628"."""
    for precision in range(6, 18):
        a, b = f"{got:.{precision}g}", f"{wanted:.{precision}g}"
        if a != b or got == wanted:
            return a, b
    return repr(got), repr(wanted)


def assert_close(
    actual: Any,
    expected: torch.Tensor,
    what: str,
    rtol: float | None = None,
    atol: float | None = None,
    against: str = "the reference",
    reduction: int | None = None,
    **context: Any,
) -> None:
    """Raise `Violation` unless ``actual`` is a tensor of ``expected``'s shape within tolerance.

    The tolerance policy: ``actual`` passes within PyTorch's tolerance for ``expected``'s dtype
    (or ``rtol``/``atol`` when given), or, for a float64 comparison, within the error a float32
    computation of the same formula makes (`lower_precision_bound`, with ``reduction`` the
    number of terms a result sums; by default the last dimension's size): computing part of it
    in float32 is a correct choice, not a bug. ``against`` names what ``expected`` is, in the
    message ("the reference", "the output without dropout").
    """
    if not isinstance(actual, torch.Tensor):
        raise Violation(f"{what}: expected a tensor, got {type(actual).__name__}", **context)
    if tuple(actual.shape) != tuple(expected.shape):
        raise Violation(
            f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}",
            got_shape=tuple(actual.shape),
            expected_shape=tuple(expected.shape),
            **context,
        )
    default_rtol, default_atol = tolerances(expected.dtype)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    actual = actual.to(expected.dtype)
    close = torch.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return
    if expected.dtype == torch.float64:
        k = reduction if reduction is not None else (expected.shape[-1] if expected.dim() else 1)
        bound = lower_precision_bound(expected, k)
        within = torch.isclose(actual, expected, rtol=0.0, atol=bound, equal_nan=True)
        if bool(within.all()):
            return  # the difference is float32 rounding: a correct lower-precision computation
    worst = int((~close).flatten().nonzero()[0])
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), expected.shape))
    got, wanted = float(actual[index]), float(expected[index])
    largest = max_abs_diff(actual, expected)
    facts = {
        "first_mismatch_index": index,
        "got": got,
        "expected": wanted,
        "max_abs_diff": largest,
        "rtol": rtol,
        "atol": atol,
    }
    if math.isnan(got) and not math.isnan(wanted):
        # NaN is the usual sign of a softmax over nothing: every key of a query masked.
        raise Violation(
            f"{what}: your output is NaN at index {index} where {against} is {wanted:.4g}",
            **facts,
            **context,
        )
    shown_got, shown_wanted = digits(got, wanted)
    raise Violation(
        f"{what}: differs from {against} by up to {largest:.3g} (tolerance rtol={rtol:g}, "
        f"atol={atol:g}, or float32 rounding); first mismatch at index {index}: {shown_got} "
        f"instead of {shown_wanted}",
        **facts,
        **context,
    )
