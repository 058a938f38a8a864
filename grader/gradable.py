"""Not gradable is not a grade: the decision, made once from a finished result.

A submission gets a number only when the grader could judge something of it. When it
could not (the file could not be read, the archive was refused, no code could run, the
code did not load in the sandbox, none of the assignment's tasks was found, the grader
itself failed), a 0 or a 43 would rank it among candidates whose work was judged, and an
interviewer skimming the ranking would read it as a verdict on the candidate. Such a
result is ``not_gradable``: ``overall`` is None, ``reason`` says why in one sentence, and
the index, ``summary.json`` and ``grader summary`` list it apart, never ranked.

What stays graded, deliberately:

* the handout handed back unchanged: every task "not attempted" is a judgement (0);
* code that loads but whose every check fails or errors: that is the candidate's work, judged;
* a submission with written answers found, even when its code did not run: the answers earn
  completion points (`grader.scoring.completion`);
* suspected tampering: the grade is withheld at 0 on purpose (`grader.pipeline.TAMPERING`).

`decide` is called at the end of `grader.pipeline.grade_submission`; `not_gradable` builds
the whole result for what never reached the pipeline (a link out of the batch folder, a
grading process that died).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader.result import CriterionScore, SubmissionInfo, SubmissionResult, TaskResult

LOAD_FAILED = "your code failed to load in the sandbox"
"""How `grader.pipeline` begins the error of a load that failed (the code raised, hung or
crashed at its top level)."""
NOT_STARTED = "not started"
"""The sandbox isolation the pipeline records when no code ran at all."""
CRITERIA = ("completion", "optimisation", "reusability", "readability")


def decide(result: SubmissionResult) -> SubmissionResult:
    """``result`` marked graded, or not gradable with its reason and no overall grade."""
    reason = not_gradable_reason(result)
    if reason is None:
        return replace(result, status="graded", reason="")
    return replace(result, status="not_gradable", reason=reason, overall=None)


def not_gradable_reason(result: SubmissionResult) -> str | None:
    """Why nothing of ``result``'s submission could be judged, or None when something was
    (see the module docstring for what counts)."""
    if result.submission.format == "unreadable":
        return _first(result.errors, "the submission could not be read")
    answered = any(answer.found for answer in result.answers)
    if answered:
        return None
    failed_load = next((e for e in result.errors if e.startswith(LOAD_FAILED)), None)
    if failed_load:
        why = failed_load[len(LOAD_FAILED) :].lstrip(": ").removeprefix("error: ")
        return f"the code could not be loaded in the sandbox: {why}"
    if _sandbox(result.environment) == NOT_STARTED:
        if result.source.strip() and not result.candidate_lines:
            return None  # the handout as handed out: graded, nothing attempted
        return _first(result.errors, "no code could be run")
    if not any(task.resolved_by for task in result.tasks.values()):
        return (
            f"none of the tasks of {result.assignment} was found in the code (is it the right "
            "assignment? names the grader does not know can be given with --map TASK=SYMBOL)"
        )
    return None


def not_gradable(
    path: Path,
    name: str,
    assignment: Any,
    reason: str,
    environment: dict[str, Any] | None = None,
    sha256: str = "",
) -> SubmissionResult:
    """A result for a submission the pipeline never graded: ``reason`` is why."""
    if not sha256 and path.is_file() and not path.is_symlink():
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size if path.is_file() and not path.is_symlink() else 0
    info = SubmissionInfo(str(path), name, "unreadable", sha256, size)
    tasks = {
        t.id: TaskResult(t.id, t.title, "error", 0.0, None, None, weight=t.weight)
        for t in assignment.tasks
    }
    criteria = {c: CriterionScore(c, 0.0, ("not graded",)) for c in CRITERIA}
    return SubmissionResult(
        info,
        assignment.id,
        tasks,
        None,
        criteria,
        None,
        {**(environment or {}), "sandbox": {"isolation": NOT_STARTED}},
        errors=(reason,),
        status="not_gradable",
        reason=reason,
    )


def _first(errors: tuple[str, ...], default: str) -> str:
    return errors[0] if errors else default


def _sandbox(environment: dict[str, Any]) -> str:
    sandbox = environment.get("sandbox")
    if isinstance(sandbox, dict):
        return str(sandbox.get("isolation", ""))
    return str(sandbox or "")
