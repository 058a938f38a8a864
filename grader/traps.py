"""Handout traps as data: the flaws a handout carries on purpose, and what a submission did
with each.

A handout may carry flaws the candidate is expected to notice (the transformer handout's
``MultiHeadSelfAttention(dim, n_heads)`` crashes on its own default ``dropout=None``; its
positional encoding is seq-first under a batch-first model; its loop feeds ``(seq, batch)``
windows to that model). A careful reviewer tells "you wrote a bug" from "you kept a flaw of
the handout" from "you found and fixed it". An assignment lists its traps under
``[[traps]]`` in ``assignment.toml``:

    [[traps]]
    id = "dropout_none_default"
    title = "MultiHeadSelfAttention(dim, n_heads) raises: dropout=None reaches nn.Dropout"
    symbols = ["MultiHeadSelfAttention.__init__"]    # where its lines are (Class.method)
    lines = ["self.dropout = nn.Dropout(p=dropout)"]  # the handout's lines that carry it
    checks = ["multi_head_attention.default_construction"]  # fail while it is there
    message = "dropout"          # optional: a regular expression the failure must match
    criterion = "reusability"    # the criterion that credits the fix
    weight = 1.0                 # in completion: the fix's weight, as a task's
    part_of_test = true          # keeping it counts as a missed fix
    fix = "..."                  # how to fix it, in words

Per submission (`outcomes`), a trap is

- ``kept`` when one of its checks fails (with ``message``) and its lines are there untouched:
  those failures are *inherited from the handout* and do not fail their task;
- ``worse`` when its checks fail so but the candidate changed its lines: the failures are
  theirs (``changed``) and count;
- ``fixed`` when its checks ran and none fails so (wherever the candidate fixed it);
- ``not judged`` when none of its checks ran.

Credit (`missed_fixes` and `grader.scoring.completion`), for traps that are part of the test:
in completion a fix is an item of ``weight`` earned when fixed; in another criterion a trap
not fixed costs what a failed generality check costs (`ScoringConfig.failed_generality_cost`),
once: a kept trap in place of its inherited check, a ``worse`` one through its own failing
check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from grader.ownership import Owners, frames, handout_symbol_lines
from grader.result import CheckResult, CriterionScore, TaskResult, TrapOutcome

TRAP_KEYS = frozenset(
    {"id", "title", "symbols", "lines", "checks", "message", "criterion", "weight"}
    | {"part_of_test", "fix"}
)
CRITERIA = ("completion", "optimisation", "reusability", "readability")


@dataclass(frozen=True)
class Trap:
    """A flaw the handout carries on purpose (one ``[[traps]]`` table)."""

    id: str
    title: str
    """The flaw in words, as the report shows it."""
    symbols: tuple[str, ...]
    """Where its lines are in the handout: functions, classes or ``Class.method``."""
    lines: tuple[str, ...]
    """The handout's lines that carry the flaw, as the handout writes them."""
    checks: tuple[str, ...]
    """Check names (``task.property``) that fail while the flaw is there."""
    message: str = ""
    """A regular expression a failing check's message (or error) must match to be this flaw's
    failure; empty: any failure of ``checks``."""
    criterion: str = "completion"
    """The criterion that credits the fix."""
    weight: float = 1.0
    """In completion, the fix's weight (as a task's weight)."""
    part_of_test: bool = True
    """Keeping the flaw counts as a missed fix; False: the trap is only reported."""
    fix: str = ""
    """How to fix it, in words."""

    def shows_in(self, check: CheckResult, owners: Owners) -> bool:
        """Whether ``check`` is this flaw's failure: one of its checks, failing, with its
        message, and when the failure has a traceback, one through the trap's code."""
        if check.name not in self.checks or check.status not in ("fail", "error"):
            return False
        facts = check.counterexample or {}
        lines = frames(str(facts.get("traceback", "")))
        if lines and not any(owners.within(n, self.symbols) for n in lines):
            return False
        text = f"{check.message}\n{facts.get('error', '')}"
        return not self.message or re.search(self.message, text) is not None


def parse_traps(
    tables: Any, where: str, handout_source: str, task_ids: Iterable[str]
) -> tuple[Trap, ...]:
    """The ``[[traps]]`` of an assignment, validated: known keys, a known criterion, checks of
    its own tasks, a regular expression that compiles, and lines the handout has where the
    trap says. Raises `grader.assignment.AssignmentError` naming the problem."""
    from grader.assignment import AssignmentError, _keys

    if not isinstance(tables, list):
        raise AssignmentError(f"{where}: traps must be [[traps]] tables")
    symbols = handout_symbol_lines(handout_source) if tables else {}
    tasks = set(task_ids)
    traps = []
    for i, table in enumerate(tables, start=1):
        here = f"{where}: trap {table.get('id', i)!r}" if isinstance(table, dict) else where
        _keys(table, TRAP_KEYS, here)
        try:
            trap = Trap(
                id=str(table["id"]),
                title=str(table["title"]),
                symbols=_strings(table["symbols"], "symbols", here),
                lines=_strings(table["lines"], "lines", here),
                checks=_strings(table["checks"], "checks", here),
                message=str(table.get("message", "")),
                criterion=str(table.get("criterion", "completion")),
                weight=float(table.get("weight", 1.0)),
                part_of_test=bool(table.get("part_of_test", True)),
                fix=str(table.get("fix", "")),
            )
        except KeyError as exc:
            raise AssignmentError(f"{here}: missing field {exc}") from None
        _validate(trap, here, symbols, tasks)
        traps.append(trap)
    ids = [t.id for t in traps]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise AssignmentError(f"{where}: trap id repeated: {', '.join(repeated)}")
    return tuple(traps)


def parse_fills(table: Any, where: str, handout_source: str) -> dict[str, str]:
    """``[fills]``: each handout line (as written, without its indentation) -> the line a
    solution writes in its place. Only `grader handout --check` reads them: the handout's
    ``TODO`` lines stand for the candidate's work, and a flaw that shows only once they are
    done (a mask that makes a misshapen window crash) needs them done."""
    from grader.assignment import AssignmentError

    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise AssignmentError(f"{where}: fills must map handout lines to lines (strings)")
    lines = {line.strip() for line in handout_source.split("\n")}
    absent = [k for k in table if k.strip() not in lines]
    if absent:
        raise AssignmentError(f"{where}: fills: the handout has no line {absent[0]!r}")
    return {k.strip(): v.strip() for k, v in table.items()}


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    from grader.assignment import AssignmentError

    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise AssignmentError(f"{where}: {key} must be a non-empty list of strings")
    return tuple(value)


def _validate(
    trap: Trap, where: str, symbols: Mapping[str, frozenset[str]], tasks: set[str]
) -> None:
    from grader.assignment import AssignmentError

    if trap.criterion not in CRITERIA:
        raise AssignmentError(
            f"{where}: criterion {trap.criterion!r}; known: {', '.join(CRITERIA)}"
        )
    unknown = [c for c in trap.checks if c.split(".")[0] not in tasks]
    if unknown:
        raise AssignmentError(f"{where}: checks of no task of the assignment: {', '.join(unknown)}")
    try:
        re.compile(trap.message)
    except re.error as exc:
        raise AssignmentError(f"{where}: message is not a regular expression: {exc}") from None
    missing = [s for s in trap.symbols if s not in symbols]
    if missing:
        raise AssignmentError(f"{where}: the handout defines no {', '.join(missing)}")
    given = frozenset().union(*(symbols[s] for s in trap.symbols))
    absent = [line for line in trap.lines if "".join(line.split()) not in given]
    if absent:
        raise AssignmentError(
            f"{where}: the handout has no line {absent[0]!r} in {', '.join(trap.symbols)}"
        )


def outcomes(
    traps: Sequence[Trap], tasks: Mapping[str, TaskResult], owners: Owners
) -> tuple[tuple[TrapOutcome, ...], dict[str, tuple[Trap, str]]]:
    """What the submission did with each trap, and the failing checks the traps explain:
    check name -> (the trap, the authorship of its failure: ``handout`` or ``changed``)."""
    checks = [c for t in tasks.values() for c in t.checks]
    found: list[TrapOutcome] = []
    claims: dict[str, tuple[Trap, str]] = {}
    for trap in traps:
        relevant = [c for c in checks if c.name in trap.checks]
        ran = [c for c in relevant if c.status != "skip"]
        failing = [c for c in ran if not c.passed]
        showing = [c for c in relevant if trap.shows_in(c, owners)]
        kept = all(owners.find(line, trap.symbols) for line in trap.lines)
        status, message = _verdict(trap, ran, failing, showing, kept)
        if status == "worse":
            showing = failing  # whichever way it fails now, the candidate's change did it
        for check in showing:
            claims[check.name] = (trap, "handout" if status == "kept" else "changed")
        found.append(
            TrapOutcome(
                trap.id,
                trap.title,
                status,  # type: ignore[arg-type]
                trap.criterion,
                trap.part_of_test,
                tuple(c.name for c in (showing or ran or relevant)),
                message,
                trap.weight,
            )
        )
    return tuple(found), claims


def _verdict(
    trap: Trap,
    ran: list[CheckResult],
    failing: list[CheckResult],
    showing: list[CheckResult],
    kept: bool,
) -> tuple[str, str]:
    """(status, message) of one trap, from its checks that ran, those that fail, those that
    fail its way, and whether its lines are untouched."""
    where = ", ".join(f"`{s}`" for s in trap.symbols)
    names = ", ".join(c.name for c in (showing or failing or ran))
    fix = f". To fix: {trap.fix}" if trap.fix else ""
    if showing and kept:
        return "kept", (
            f"kept: the handout wrote this code ({where}) and the submission kept it; {names} "
            f"fail(s) because of it: inherited from the handout, not counted against the task{fix}"
        )
    if failing and not kept:
        return "worse", (
            f"changed and still failing: the submission changed the handout's lines in {where} "
            f"and {names} fail(s): the failure is the candidate's{fix}"
        )
    if ran and not failing:
        around = " (the handout's lines are still there: fixed around them)" if kept else ""
        return "fixed", f"fixed: {names} pass{around}"
    if ran:
        return "not judged", (
            f"not judged: {names} fail(s) for another reason, so whether the flaw is still "
            "there cannot be told"
        )
    return "not judged", "not judged: none of its checks ran"


def missed_fixes(
    score: CriterionScore, traps: Iterable[TrapOutcome], cost: float
) -> CriterionScore:
    """``score`` with the traps it credits accounted for: ``cost`` points off for each trap
    that is part of the test and kept (its inherited check no longer costs anything), a line
    of evidence for each. Completion credits its traps itself (`grader.scoring.completion`)."""
    mine = [t for t in traps if t.criterion == score.name and t.credited]
    if not mine or score.name == "completion":
        return score
    evidence = list(score.evidence)
    points = score.score
    for trap in mine:
        if trap.status == "kept":
            points -= cost
            evidence.append(f"-{cost:g}: missed fix of the handout's flaw {trap.id} ({trap.title})")
        elif trap.status == "fixed":
            evidence.append(f"fixed the handout's flaw {trap.id} ({trap.title}): nothing lost")
        elif trap.status == "worse":
            evidence.append(
                f"changed the handout's flaw {trap.id} and it still fails: its check counts"
            )
    return replace(score, score=round(max(0.0, points), 1), evidence=tuple(evidence))
