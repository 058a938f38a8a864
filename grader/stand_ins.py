"""One bug, one failing task: a task whose code calls another task's part is graded again with a
correct stand-in in that part's place when the part fails its own checks or hangs.

A careful reviewer fails the attention whose softmax runs over the wrong axis and credits the
multi-head attention built on it, noting the consequence. So a task whose kind declares
``depends_on`` is graded *as written* (the candidate's parts all the way down) and, when a part
it calls fails or hangs, *in isolation*: the candidate's name for that part is bound, in their
worker, to a stand-in (`grader/sandbox/standin_recipes.py`) in their own mask convention. The
task's verdict is the one in isolation; the checks that fail only as written stay on the
report, attributed ("fails only through `attention`"). A part that hangs is not called as
written at all: each call would wait for the limit again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace

from grader import kinds, scoring
from grader.checks import mask_source
from grader.checks.base import SuiteContext
from grader.checks.masks import MaskStyle
from grader.result import CheckResult
from grader.sandbox import WorkerError


def dependencies(run: SuiteContext, runs: Sequence[SuiteContext]) -> list[SuiteContext]:
    """The tasks whose kinds ``run``'s kind calls, directly or through them, in task order."""
    wanted: set[str] = set()
    frontier = list(kinds.get(run.task.kind).depends_on)
    while frontier:
        kind = frontier.pop()
        if kind not in wanted:
            wanted.add(kind)
            frontier += kinds.get(kind).depends_on
    return [r for r in runs if r.task.kind in wanted and r is not run]


def broken(run: SuiteContext, results: dict[str, list[CheckResult]]) -> bool:
    """The task fails or errs on its own checks, or hangs."""
    if run.task.id in run.shared.get("hanging", {}):
        return True
    checks = results.get(run.task.id, [])
    return bool(checks) and scoring.task_status(checks, True) in ("fail", "error")


def culprits(
    run: SuiteContext, runs: Sequence[SuiteContext], results: dict[str, list[CheckResult]]
) -> list[SuiteContext]:
    """The parts ``run`` calls that are broken and can be stood in for (the candidate's own
    named function or class, of a kind that has a stand-in)."""
    return [
        d
        for d in dependencies(run, runs)
        if d.symbol is not None and kinds.get(d.task.kind).stand_in and broken(d, results)
    ]


def hangs_through(run: SuiteContext, runs: Sequence[SuiteContext]) -> list[SuiteContext]:
    """The parts ``run`` calls that hang: it is not graded as written."""
    hanging = run.shared.get("hanging", {})
    return [d for d in dependencies(run, runs) if d.task.id in hanging]


@contextlib.contextmanager
def standing_in(run: SuiteContext, parts: Sequence[SuiteContext]) -> Iterator[None]:
    """Within the block, each of ``parts`` is a stand-in in the candidate's worker, speaking
    their mask convention; their own code is bound back after."""
    source = run.shared.get("mask_source")
    style = getattr(source, "style", None) or understood_style(run)
    convention = style.convention if style is not None else "keep-bool"
    # Their own shape when their mask was not identified: a model that indexes a (1, L, L)
    # mask (mask.unsqueeze(1)) must get one from the stand-in too.
    leading = len(source.leading) if source is not None else 0
    try:
        for part in parts:
            run.worker.substitute(part.symbol, part.task.kind, convention, leading)
        yield
    finally:
        run.worker.restore()


def understood_style(run: SuiteContext) -> MaskStyle | None:
    """When the candidate's masks were not identified (their mask function is the broken
    part), the convention their own attention computes causal attention with: a stand-in
    mask must speak it (an additive attention adds a boolean mask without masking)."""
    shared = run.shared
    if "understood_mask_style" not in shared:
        attention_fn = run.symbol_of_kind("attention")
        style = None
        if attention_fn is not None:
            try:
                style = mask_source.probe(run.worker, attention_fn)
            except WorkerError:
                run.worker.restart()
        shared["understood_mask_style"] = style
    return shared["understood_mask_style"]


def names(parts: Sequence[SuiteContext]) -> str:
    return ", ".join(f"`{p.symbol or p.task.id}`" for p in parts)


def attributed(
    written: list[CheckResult], isolated: list[CheckResult], parts: Sequence[SuiteContext]
) -> tuple[tuple[CheckResult, ...], str]:
    """The checks that fail only as written (they pass with stand-ins), each message saying
    through what, and the task's note."""
    passing = {c.name for c in isolated if c.status in ("pass", "skip")}
    through = names(parts)
    only = tuple(
        replace(c, message=f"as written, through {through}: {c.message}")
        for c in written
        if c.status in ("fail", "error") and c.name in passing
    )
    if not written:
        note = f"graded with a stand-in for {through}, which hangs"
    elif only:
        note = (
            f"fails only through {through}: {len(only)} check(s) fail as written and pass with a "
            f"correct {through} in its place; graded on its own code"
        )
    else:
        note = f"graded again with a correct {through} in its place: the verdict is its own code's"
    return only, note
