"""Credit and blame by authorship: the candidate is judged on what they wrote and fixed.

The last step of grading one submission (`grader.pipeline`), after the checks, the isolation of
tasks that call a broken part (`grader.stand_ins`) and the scores. It reads only the result
and the assignment, and:

1. labels every failing check and every finding with who wrote the lines that cause it
   (`CheckResult.authorship`, `Finding.authorship`; `grader.ownership` tells the lines apart):
   - a check a handout trap explains (`grader.traps`) is ``handout`` when the trap's lines
     are untouched, ``changed`` when the candidate changed them and it still fails;
   - otherwise a failure with a traceback is ``handout`` when every frame of the submission
     in it is an untouched handout line, else the owner of the innermost frame the candidate
     wrote or changed;
   - otherwise (a wrong value, no traceback) the owner of the task's symbol when the
     candidate wrote any of it, and nobody (None) when they did not: behaviour alone does not
     say which of the code it runs through is at fault, and an unnamed failure counts;
   - a finding: the owner of its line;
2. gives each task the status and score of the checks that are the candidate's: a check that
   fails only because of untouched handout code stays on the report, labelled, and does not
   count (`CheckResult.inherited`, `grader.scoring.counts`);
3. records what the submission did with each trap (`SubmissionResult.traps`) and scores it:
   a fix is credited in the trap's criterion, keeping a trap that is part of the test is a
   missed fix (`grader.traps.missed_fixes`, `grader.scoring.completion`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from grader import scoring
from grader.assignment import Assignment
from grader.config import GraderConfig
from grader.ownership import Owners, line_owners
from grader.result import (
    AUTHORSHIP_WORDS,
    CheckResult,
    CriterionScore,
    Finding,
    SubmissionResult,
    TaskResult,
    TrapOutcome,
)
from grader.traps import Trap, missed_fixes, outcomes

INHERITED = AUTHORSHIP_WORDS["handout"]
"""How every report says that a failure lies in the handout's untouched code."""


def judged(
    result: SubmissionResult, assignment: Assignment, config: GraderConfig, withheld: bool = False
) -> SubmissionResult:
    """``result`` with authorship on its failures and findings, task verdicts that follow the
    candidate's own work, the traps' outcomes and the criteria rescored accordingly.
    ``withheld``: the grade is withheld (0) whatever the scores say (suspected tampering)."""
    if not result.candidate_lines:  # nothing of the candidate's: nothing to attribute
        return result
    owners = line_owners(result.source, result.candidate_lines, assignment.handout_source())
    trap_outcomes, claims = outcomes(assignment.traps, result.code_tasks, owners)
    tasks = {
        tid: task if tid not in result.code_tasks else attributed(task, owners, claims)
        for tid, task in result.tasks.items()
    }
    labelled = {f: replace(f, authorship=finding_owner(f, owners)) for f in result.findings}
    findings = tuple(labelled.values())
    criteria = {
        name: replace(c, findings=tuple(labelled.get(f, f) for f in c.findings))
        for name, c in result.criteria.items()
    }
    criteria = rescored(criteria, tasks, result, findings, trap_outcomes, assignment, config)
    weights = assignment.criterion_weights or config.scoring.criterion_weights
    return replace(
        result,
        tasks=tasks,
        criteria=criteria,
        findings=findings,
        traps=trap_outcomes,
        overall=0.0 if withheld else scoring.overall(criteria, weights),
    )


def attributed(
    task: TaskResult, owners: Owners, claims: Mapping[str, tuple[Trap, str]]
) -> TaskResult:
    """The task with its failing checks labelled, and its verdict from the counted ones."""
    checks = tuple(label(c, task, owners, claims) for c in task.checks)
    as_written = tuple(label(c, task, owners, {}) for c in task.as_written)
    inherited = [c for c in checks if c.inherited]
    if task.status == "missing":
        return replace(task, checks=checks, as_written=as_written)
    note = task.note
    if inherited:
        said = (
            f"{len(inherited)} check(s) fail only because of the handout's untouched code "
            f"({INHERITED}, not counted): {', '.join(c.name for c in inherited)}"
        )
        note = f"{note}; {said}" if note else said
    return replace(
        task,
        checks=checks,
        as_written=as_written,
        status=scoring.task_status(checks, True),  # type: ignore[arg-type]
        score=round(scoring.task_score(checks), 4),
        note=note,
    )


def label(
    check: CheckResult, task: TaskResult, owners: Owners, claims: Mapping[str, tuple[Trap, str]]
) -> CheckResult:
    """``check`` with its authorship, when it fails (see the module docstring)."""
    if check.status not in ("fail", "error"):
        return check
    if check.name in claims:
        return replace(check, authorship=claims[check.name][1])  # type: ignore[arg-type]
    traceback = (check.counterexample or {}).get("traceback")
    by_trace = owners.of_traceback(str(traceback)) if traceback else None
    if by_trace is not None:
        return replace(check, authorship=by_trace)
    by_symbol = owners.of_symbol(task.symbol)
    return replace(check, authorship=by_symbol if by_symbol != "handout" else None)


def finding_owner(finding: Finding, owners: Owners) -> str | None:
    """The owner of a finding's line, or of its function when the line is the handout's (a
    finding about the body the candidate wrote is anchored at the handout's ``def`` line);
    None for the notebook's facts, which describe how the notebook was run."""
    if finding.criterion == "notebook":
        return None
    owner = owners.of_line(finding.line)
    if owner == "handout":
        return owners.of_symbol(finding.symbol) or owner
    return owner


def rescored(
    criteria: dict[str, CriterionScore],
    tasks: Mapping[str, TaskResult],
    result: SubmissionResult,
    findings: tuple[Finding, ...],
    traps: tuple[TrapOutcome, ...],
    assignment: Assignment,
    config: GraderConfig,
) -> dict[str, CriterionScore]:
    """Completion and reusability again, from the tasks as judged now (inherited failures do
    not count) and the traps (fixes credited, kept traps missed)."""
    out = dict(criteria)
    out["completion"] = scoring.completion(
        tasks.values(), result.answers, {q.id: q.weight for q in assignment.questions}, traps
    )
    if "reusability" in out:
        checks = [c for t in tasks.values() for c in t.checks]
        out["reusability"] = scoring.reusability(
            checks, findings, config.scoring.failed_generality_cost, config.quality
        )
    cost = config.scoring.failed_generality_cost
    return {name: missed_fixes(c, traps, cost) for name, c in out.items()}
