"""The timings against the reference: the reference against itself comes out even, a slow
attention comes out slow and scores a lower band, a submission that tampers with clocks and
torch in its own process gains nothing, and a crashing one is a reason, not an exception.

The sizes are the handout's, so the timed tests are slow (real workers, a real training
step); the scheduling helpers are tested on their own, quickly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import torch

from grader import assignment, scoring
from grader.assignment import Assignment
from grader.config import GraderConfig, SandboxLimits
from grader.intake.resolve import Resolution
from grader.intake.tampering import suspected_tampering
from grader.pipeline import contexts, reference_for, time_tasks
from grader.result import CheckResult
from grader.sandbox import Sandbox
from grader.sandbox.isolation import RECIPE_MODULES, WORKER_FILES
from grader.timing import (
    CPU_CLOCK,
    FORWARD_BACKWARD,
    MIN_REPEATS,
    TIMED_OUTPUT_CHECK,
    WALL_CLOCK,
    TimingReport,
    calibrate,
    cpu_clock,
    interleave,
    iqr,
)
from grader.trusted import LazyReference, reference_modules, start_reference

CONFIG = GraderConfig(sandbox=SandboxLimits(call_timeout_s=30.0, submission_timeout_s=300.0))
ASSIGNMENT = assignment.get("transformer_lm")
REFERENCE_SYMBOLS = {
    "attention": "reference.attention:attention",
    "multi_head_attention": "reference.attention:MultiHeadSelfAttention",
    "training": "reference.model:TransformerLM",
}
"""The reference package loaded as if it were a submission."""

SLOW_ATTENTION = """
import torch

SOFTMAX = torch.softmax


def attention(query, key, value, mask=None, dropout=None):
    # One (batch, head) pair at a time: the Python loop that batched products avoid.
    batch, heads, _, head_dim = query.shape
    out = []
    for b in range(batch):
        for h in range(heads):
            scores = query[b, h] @ key[b, h].transpose(0, 1) / head_dim ** 0.5
            if mask is not None:
                scores = scores.masked_fill(mask == 0, float("-inf"))
            out.append(SOFTMAX(scores, dim=-1) @ value[b, h])
    return torch.stack(out).view(query.shape)
"""

TAMPERING = """
import time

# Every clock this process can read stands still...
for _name in ("perf_counter", "time", "monotonic", "process_time", "thread_time"):
    setattr(time, _name, lambda: 0.0)
for _name in ("perf_counter_ns", "time_ns", "monotonic_ns", "process_time_ns"):
    setattr(time, _name, lambda: 0)
# ...backward passes and device waits are free...
torch.autograd.backward = lambda *args, **kwargs: None
torch.Tensor.backward = lambda self, *args, **kwargs: None
torch.cuda.synchronize = lambda *args, **kwargs: None
# ...and torch's softmax is ten times dearer for anyone else in this process (the attention
# above captured the original), as a reference timed here would find.
def _dear_softmax(*args, **kwargs):
    for _ in range(9):
        SOFTMAX(*args, **kwargs)
    return SOFTMAX(*args, **kwargs)
torch.softmax = _dear_softmax
torch.Tensor.softmax = _dear_softmax
"""

PHASE_PROBE = """
import inspect

import torch


def _being_timed():
    # Any frame of the loop that only timing runs (its name read from the harness's source).
    return any(frame.function == {recipe!r} for frame in inspect.stack(0))


def attention(query, key, value, mask=None, dropout=None):
    if _being_timed():
        return (query + key + value) / 3  # the right shape, gradients to every input, no work
    scores = query @ key.transpose(-2, -1) / query.size(-1) ** 0.5
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value


class MultiHeadSelfAttention(torch.nn.Module):
    def __init__(self, dim, n_heads, dropout=None):
        super().__init__()
        self.n_heads = n_heads
        self.q, self.k, self.v, self.out = (torch.nn.Linear(dim, dim) for _ in range(4))

    def forward(self, query, key, value, mask=None):
        batch, seq, dim = query.shape

        def heads(x):
            return x.view(batch, -1, self.n_heads, dim // self.n_heads).transpose(1, 2)

        mixed = attention(heads(self.q(query)), heads(self.k(key)), heads(self.v(value)), mask)
        return self.out(mixed.transpose(1, 2).reshape(batch, seq, dim))
""".replace("{recipe!r}", repr(FORWARD_BACKWARD))
"""Attention that returns a cheap tensor of the right shape only while it is being timed,
and a multi-head module built on it: correct everywhere else."""

CRASHING = """
import os

import torch


def attention(query, key, value, mask=None, dropout=None):
    raise ValueError("not finished yet")


class MultiHeadSelfAttention(torch.nn.Module):
    def __init__(self, dim, n_heads, dropout=None):
        super().__init__()
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, query, key, value, mask=None):
        os._exit(3)
"""


# --- scheduling, on its own ---------------------------------------------------------------


def test_rounds_alternate_and_the_order_flips_every_repeat() -> None:
    order: list[str] = []
    candidate, reference = interleave(
        lambda: order.append("c") or 1.0, lambda: order.append("r") or 2.0, repeats=4, budget_s=60
    )
    assert order == ["c", "r", "r", "c", "c", "r", "r", "c"]
    assert candidate == [1.0] * 4 and reference == [2.0] * 4


def test_a_spent_budget_stops_after_the_minimum_repeats() -> None:
    candidate, reference = interleave(
        lambda: time.sleep(0.01) or 1.0, lambda: 1.0, repeats=50, budget_s=0.0
    )
    assert len(candidate) == len(reference) == MIN_REPEATS


def test_calibration_reaches_the_round_length_without_overshooting_far() -> None:
    asked: list[int] = []

    def run(calls: int) -> float:
        asked.append(calls)
        return calls * 0.0037  # seconds: a 3.7 ms call

    calls = calibrate(run, min_round_s=0.05)
    assert calls * 0.0037 >= 0.05
    assert calls * 0.0037 < 0.05 * 2
    assert asked[0] == 1 and len(asked) <= 4


def test_iqr_is_the_spread_of_the_middle_half() -> None:
    assert iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0)
    assert iqr([7.0]) == 0.0


# --- real workers ---------------------------------------------------------------------------


def measure(
    worker: Sandbox,
    graded: Assignment,
    symbols: dict[str, str | None],
    config: GraderConfig,
    *,
    mask: torch.Tensor | None = None,
    reference: Sandbox | None = None,
) -> TimingReport:
    """Time ``symbols`` (task id -> symbol) as the pipeline does once every check passed:
    each timed kind builds its item, with ``mask`` as the candidate's causal mask."""
    holder = (
        LazyReference.started(reference, config)
        if reference is not None
        else reference_for(graded, config)
    )
    resolutions = {
        t.id: Resolution(t.id, symbols.get(t.id), "name" if symbols.get(t.id) else None)
        for t in graded.tasks
    }
    runs = contexts(worker, graded, resolutions, {}, config, lambda _: None, holder)
    for run in runs[:1]:
        run.shared["window_masks"] = {35: mask}  # the candidate's mask, found already
    passed = {t: [CheckResult(f"{t}.runs", t, "pass", "")] for t, s in symbols.items() if s}
    try:
        return time_tasks(worker, runs, passed, config, holder)
    finally:
        if reference is None:
            holder.close()


@pytest.fixture(scope="module")
def reference() -> Iterator[Sandbox]:
    """One trusted reference worker, shared by the timed tests (as a batch would share it)."""
    worker = start_reference(CONFIG)
    yield worker
    worker.close()


def candidate_worker(modules: dict[str, str], main: str) -> Sandbox:
    worker = Sandbox(CONFIG.sandbox, label="timing-candidate")
    worker.start()
    report = worker.load_modules(modules, main=main)
    assert report.ok, report.error
    return worker


@pytest.fixture(scope="module")
def honest() -> Iterator[TimingReport]:
    """The reference timed as a candidate, with measure() starting its own reference."""
    worker = candidate_worker(reference_modules(), "reference.model")
    try:
        causal = torch.ones(35, 35, dtype=torch.bool).tril()  # (seq, seq), True = may attend
        yield measure(worker, ASSIGNMENT, REFERENCE_SYMBOLS, CONFIG, mask=causal)
    finally:
        worker.close()


@pytest.fixture(scope="module")
def slow(reference: Sandbox) -> Iterator[TimingReport]:
    worker = candidate_worker({"submission": SLOW_ATTENTION}, "submission")
    try:
        yield measure(worker, ASSIGNMENT, {"attention": "attention"}, CONFIG, reference=reference)
    finally:
        worker.close()


def test_the_worker_cpu_clock_counts_its_work_and_not_its_idle_time(reference: Sandbox) -> None:
    if reference.info.uid is None:
        pytest.skip("the worker has no uid of its own here, so the wall clock is used instead")
    clock = cpu_clock(reference)
    before = clock()
    time.sleep(0.2)
    idle = clock() - before
    q = torch.randn(20, 2, 35, 100, requires_grad=True)  # (batch, heads, seq, head_dim)
    function = reference.symbol("reference.attention:attention")
    before, wall = clock(), time.perf_counter()
    reference.run(FORWARD_BACKWARD, function, 40, q, q, q, None)
    busy, wall = clock() - before, time.perf_counter() - wall
    assert idle < 0.02  # a sleeping worker uses no CPU, however long the grader waits
    assert 0.02 < busy <= wall + 0.01  # 40 calls of a few ms each, never more than the wall


@pytest.mark.slow
def test_the_reference_against_itself_comes_out_even(honest: TimingReport) -> None:
    assert [t.name.split(" ")[0] for t in honest.timings] == ["attention", "multi-head", "training"]
    assert honest.skipped == ()
    for timing in honest.timings:
        assert 0.5 < timing.ratio < 2.0, timing
        assert (
            timing.candidate_iqr_ms < timing.candidate_ms
            and timing.reference_iqr_ms < timing.reference_ms
        )
    speed = honest.throughput
    assert speed is not None
    assert speed.candidate_tokens_per_s == pytest.approx(
        20 * 35 / speed.candidate_ms_per_batch * 1000, rel=1e-3
    )
    assert 0.5 < speed.reference_tokens_per_s / speed.candidate_tokens_per_s < 2.0
    assert honest.clock in (CPU_CLOCK, WALL_CLOCK) and honest.clock in honest.evidence[0]


@pytest.mark.slow
def test_a_python_loop_over_heads_is_slower_and_scores_a_lower_band(
    honest: TimingReport, slow: TimingReport
) -> None:
    (attention,) = slow.timings
    assert attention.ratio > 1.5, attention
    skipped = " ".join(slow.skipped)
    assert "multi_head_attention: not timed: missing, or its checks fail" in skipped
    fair = scoring.optimisation(honest.timings[:1], (), CONFIG.timing)
    loop = scoring.optimisation(slow.timings, (), CONFIG.timing, slow.evidence)
    assert loop.score < fair.score
    assert loop.evidence[0].startswith("timed against the reference in alternating rounds")
    assert any(line.startswith("multi_head_attention: not timed") for line in loop.evidence)


@pytest.mark.slow
def test_tampering_with_clocks_and_torch_in_its_own_process_gains_nothing(
    reference: Sandbox, slow: TimingReport
) -> None:
    worker = candidate_worker({"submission": SLOW_ATTENTION + TAMPERING}, "submission")
    try:
        report = measure(
            worker, ASSIGNMENT, {"attention": "attention"}, CONFIG, reference=reference
        )
    finally:
        worker.close()
    (tampered,) = report.timings
    (honest_slow,) = slow.timings
    # The reference never shared a process with it, and the clock is read from outside:
    # the same slow attention is as slow as before.
    assert tampered.ratio > 1.5, tampered
    assert tampered.ratio > 0.7 * honest_slow.ratio, (tampered, honest_slow)


@pytest.mark.slow
def test_a_crash_is_a_reason_not_an_exception(reference: Sandbox) -> None:
    worker = candidate_worker({"submission": CRASHING}, "submission")
    symbols = {
        "attention": "attention",
        "multi_head_attention": "MultiHeadSelfAttention",
        "training": None,
    }
    try:
        report = measure(worker, ASSIGNMENT, symbols, CONFIG, reference=reference)
        assert report.timings == ()
        reasons = dict(line.split(": ", 1) for line in report.skipped)
        assert (
            reasons["attention"] == "not timed: your attention raised ValueError: not finished yet"
        )
        assert reasons["multi_head_attention"].startswith(
            "not timed: your MultiHeadSelfAttention could not be run"
        )
        assert reasons["training"].startswith("not timed: missing, or its checks fail")
        assert worker.alive  # restarted after the crash, for whatever the grader does next
        nothing = scoring.optimisation(report.timings, (), CONFIG.timing)
        assert nothing.metrics["time_ratio"] is None
    finally:
        worker.close()


def test_an_assignment_without_timed_tasks_times_nothing() -> None:
    positional = assignment.get("positional_encoding")
    report = measure(None, positional, {}, CONFIG)  # type: ignore[arg-type] - never touched
    assert report.timings == () and report.skipped == (
        "no timings are defined for this assignment",
    )


def test_nothing_the_worker_runs_is_named_after_timing() -> None:
    """Candidate code can read its call stack: no file, module or recipe there says "timing"."""
    names = [*WORKER_FILES, *RECIPE_MODULES, FORWARD_BACKWARD]
    assert not [name for name in names if "tim" in name.lower()]


@pytest.mark.slow
def test_code_that_cheats_only_while_timed_fails_and_gets_no_speed_credit(
    reference: Sandbox,
) -> None:
    assert suspected_tampering(PHASE_PROBE) == []  # nothing the static review would catch
    worker = candidate_worker({"submission": PHASE_PROBE}, "submission")
    symbols = {"attention": "attention", "multi_head_attention": "MultiHeadSelfAttention"}
    try:
        causal = torch.ones(35, 35, dtype=torch.bool).tril()  # (seq, seq), True = may attend
        report = measure(worker, ASSIGNMENT, symbols, CONFIG, mask=causal, reference=reference)
    finally:
        worker.close()
    assert report.timings == ()  # neither item earns a speed
    failed = {check.name: check for check in report.checks}
    assert set(failed) == {f"{task}.{TIMED_OUTPUT_CHECK}" for task in symbols}
    assert all(check.status == "fail" for check in failed.values())
    reasons = dict(line.split(": ", 1) for line in report.skipped)
    assert "differs from the reference's on the same inputs" in reasons["attention"]
    assert "not multi-head attention of its own projections" in reasons["multi_head_attention"]
    assert "behaves differently when timed" in failed[f"attention.{TIMED_OUTPUT_CHECK}"].message
