"""Facts every report format derives from a `SubmissionResult` the same way.

The scorecard, the Markdown summary, the JUnit file and the batch page all say how many
checks passed, whether the sandbox was weaker than bubblewrap and how a counterexample value
reads; deriving those here once keeps the four formats from disagreeing.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from grader.result import Finding, SubmissionResult, TaskResult

CRITERIA = ("completion", "optimisation", "reusability", "readability")
"""The four criteria the test names, in the order the test lists them."""

STRONG_ISOLATION = "bwrap"
"""The sandbox the design requires; anything else earns a warning in every report."""


RESOLVED_BY = {
    "name": "found by its handout name",
    "alias": "found by a common alias",
    "override": "named by the interviewer (override)",
    "observed": "observed at run time",
}
"""How a task's symbol was found (`TaskResult.resolved_by`), in words."""


def resolution(resolved_by: str | None) -> str:
    """`TaskResult.resolved_by` in words; unknown values are shown as they are."""
    if resolved_by is None:
        return "not found"
    return RESOLVED_BY.get(resolved_by, resolved_by)


@dataclass(frozen=True)
class CheckCounts:
    """How the checks of one task (or of a whole submission) came out."""

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped


def check_counts(task: TaskResult) -> CheckCounts:
    """Count a task's checks by status."""
    seen = Counter(c.status for c in task.checks)
    return CheckCounts(seen["pass"], seen["fail"], seen["error"], seen["skip"])


def tasks_passed(result: SubmissionResult) -> tuple[int, int]:
    """(tasks passed, tasks graded): a missing task counts as graded and not passed. The
    written answers' tasks (``question:<id>``) are not counted: they are reported as answers."""
    tasks = result.code_tasks
    return sum(t.status == "pass" for t in tasks.values()), len(tasks)


def training_verdict(result: SubmissionResult) -> str:
    """The training task's status (`grader.task_counts.training_status`: the one every report
    states), or ``not run`` when the result has none."""
    from grader.task_counts import training_status

    return training_status(result)


NOT_STARTED = "not started"
"""What the pipeline records when no code ran (an empty or unparsable submission)."""


def sandbox_isolation(environment: dict[str, Any]) -> str:
    """The isolation the worker ran under, as the sandbox recorded it.

    Read from ``environment["sandbox"]["isolation"]`` (or ``environment["sandbox"]`` when it
    is a plain string); ``unknown`` when absent, which the reports treat as weak.
    """
    sandbox = environment.get("sandbox")
    if isinstance(sandbox, dict):
        sandbox = sandbox.get("isolation")
    return str(sandbox) if sandbox else "unknown"


def isolation_warning(result: SubmissionResult) -> str | None:
    """The loud warning every report carries when the worker was not inside bubblewrap,
    with the sandbox's own notes (``environment["sandbox"]["notes"]``) when it left any."""
    isolation = sandbox_isolation(result.environment)
    if isolation in (STRONG_ISOLATION, NOT_STARTED):
        return None  # bubblewrap, or no candidate code ran at all
    sandbox = result.environment.get("sandbox")
    notes = sandbox.get("notes", ()) if isinstance(sandbox, dict) else ()
    said = "".join(f" {note}" for note in notes) if isinstance(notes, (list, tuple)) else ""
    return (
        f"Candidate code ran with sandbox isolation '{isolation}', not bubblewrap: no separate "
        "network, process or file-system namespace confined it, only resource limits and the "
        "audit hook. A hostile submission could have read files or reached the network; "
        "re-grade on a machine with bubblewrap before relying on this grade." + said
    )


def all_findings(result: SubmissionResult) -> list[Finding]:
    """Every finding once: the result's own list, then any a criterion cites that the list
    lacks (so a finding a score depends on is never invisible)."""
    findings = list(result.findings)
    for criterion in result.criteria.values():
        findings += [f for f in criterion.findings if f not in findings]
    return findings


def format_value(value: Any) -> str:
    """A counterexample or environment value in plain words: shapes as ``[2, 3, 5]``, floats
    to four significant digits, booleans as yes/no, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format_number(value, ".4g")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def format_number(value: float | str | None, spec: str = ".3f") -> str:
    """A number with a format spec; a dash for none, ``NaN``/``inf`` spelled out (a JSON
    round trip may have turned them into strings)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return format(value, spec)
