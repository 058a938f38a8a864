"""JUnit XML for CI: one test suite per task, one test case per check.

CI systems (GitLab, Jenkins, GitHub test reporters) show JUnit failures inline, so a
failing check appears with its message and counterexample where reviewers already look.
The XML is built with ``xml.etree`` so every candidate string is escaped by construction
(``]]>`` included: it is text, never a CDATA section). The result is bounded first
(`grader.bounded`: control characters made visible, lone surrogates replaced), and whatever
XML 1.0 still cannot carry (U+FFFE, U+FFFF) is replaced, or the file would not parse. A
failure's ``message`` attribute is cut at ``ReportLimits.message_chars``; its body keeps
the field.

Besides the task checks: each training run is a test case of the ``training`` suite, each
written answer one of ``written_answers``, and the ``submission`` suite holds the sandbox's
isolation (failing when weaker than bubblewrap) and any problem with the submission as a
whole, as errors. A task with no checks (not attempted) gets one failing
``<task>.implemented`` case, so a missing task is never an empty, green suite.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from grader.bounded import bounded
from grader.config import DEFAULT_REPORT_LIMITS, ReportLimits
from grader.report.facts import format_value, isolation_warning
from grader.result import (
    AUTHORSHIP_WORDS,
    CheckResult,
    SubmissionResult,
    TaskResult,
    TrainingRun,
    TrapOutcome,
    WrittenAnswer,
)
from grader.task_counts import task_properties
from grader.text import truncate

# Everything outside XML 1.0's Char production (tab, newline and carriage return are allowed).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_ELEMENT = {"fail": "failure", "error": "error", "skip": "skipped"}


@dataclass(frozen=True)
class Case:
    """One JUnit test case before it becomes XML."""

    name: str
    status: str
    """``pass``, ``fail``, ``error`` or ``skip``."""
    message: str = ""
    detail: str = ""
    """Body of the failure element: the counterexample or the numbers."""
    time_s: float = 0.0


def render_junit(result: SubmissionResult, limits: ReportLimits = DEFAULT_REPORT_LIMITS) -> str:
    """The JUnit XML document for one graded submission."""
    result = bounded(result, limits)
    suites: dict[str, list[Case]] = {}
    for task_id, task in result.code_tasks.items():
        cases = [_check_case(c) for c in task.checks]
        suites[task_id] = cases or [_not_graded(task)]
    if result.traps:
        suites["handout_flaws"] = [_trap_case(t) for t in result.traps]
    if result.training:
        suites.setdefault("training", []).extend(_run_case(r) for r in result.training.runs)
    if result.answers:
        suites["written_answers"] = [_answer_case(a) for a in result.answers]
    suites["submission"] = [_sandbox_case(result)] + [
        Case(f"submission.error.{i}", "error", e) for i, e in enumerate(result.errors, start=1)
    ]

    root = ET.Element("testsuites", name=_clean(f"{result.assignment}: {result.submission.name}"))
    cap = limits.message_chars
    totals = [_suite(root, result, name, cases, cap) for name, cases in suites.items()]
    task_properties(root, result)
    _set_counts(root, {key: sum(t[key] for t in totals) for key in totals[0]} if totals else {})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(
    root: ET.Element, result: SubmissionResult, name: str, cases: list[Case], cap: int
) -> dict[str, float]:
    """Append one ``<testsuite>`` and return its counts."""
    counts = {
        "tests": len(cases),
        "failures": sum(c.status == "fail" for c in cases),
        "errors": sum(c.status == "error" for c in cases),
        "skipped": sum(c.status == "skip" for c in cases),
        "time": sum(c.time_s for c in cases),
    }
    suite = ET.SubElement(root, "testsuite", name=_clean(name))
    _set_counts(suite, counts)
    for case in cases:
        element = ET.SubElement(
            suite,
            "testcase",
            name=_clean(case.name),
            classname=_clean(f"{result.assignment}.{name}"),
            time=f"{case.time_s:.3f}",
        )
        if case.status in _ELEMENT:
            message = _clean(truncate(case.message, cap))
            outcome = ET.SubElement(element, _ELEMENT[case.status], message=message)
            if case.status != "skip":
                outcome.set("type", case.status)
                outcome.text = _clean("\n".join(filter(None, (case.message, case.detail))))
        elif case.detail:
            ET.SubElement(element, "system-out").text = _clean(case.detail)
    return counts


def _set_counts(element: ET.Element, counts: dict[str, float]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(int(counts.get(key, 0))))
    element.set("time", f"{counts.get('time', 0.0):.3f}")


def _check_case(check: CheckResult) -> Case:
    """A check's case; one that fails only because of the handout's untouched code is
    skipped, labelled, as it does not count against its task."""
    detail = ""
    if check.counterexample:
        detail = "counterexample:\n" + _lines(check.counterexample.items())
    if check.inherited:
        message = (
            f"{AUTHORSHIP_WORDS['handout']} (not counted, was {check.status}): {check.message}"
        )
        return Case(check.name, "skip", message, detail, check.duration_s)
    message = check.message
    if check.authorship == "changed" and check.status in ("fail", "error"):
        message = f"{AUTHORSHIP_WORDS['changed']}: {message}"
    return Case(check.name, check.status, message, detail, check.duration_s)


def _trap_case(trap: TrapOutcome) -> Case:
    """A flaw of the handout: passes when fixed, fails when kept as part of the test or made
    the candidate's own failure, skipped when it is only reported or was not judged."""
    name = f"handout_flaw.{trap.id}"
    if trap.status == "fixed":
        return Case(name, "pass", detail=trap.message)
    if trap.status == "not judged" or (trap.status == "kept" and not trap.credited):
        return Case(name, "skip", f"{trap.title}: {trap.message}")
    return Case(name, "fail", f"{trap.title}: {trap.message}")


def _run_case(run: TrainingRun) -> Case:
    numbers = {
        "steps": run.steps,
        "val_loss_before": run.val_loss_before,
        "val_loss_after": run.val_loss_after,
        "ms_per_batch": run.ms_per_batch,
    }
    detail = _lines(numbers.items()) + "".join(f"\nobserved: {o}" for o in run.observations)
    return Case(f"training.run.{run.driver}", run.status, run.message, detail)


def _answer_case(answer: WrittenAnswer) -> Case:
    """A written answer fails when it is absent or states a known misconception; its score is
    a suggestion and never fails it on its own."""
    name = f"question:{answer.question}"
    if not answer.found:
        return Case(name, "fail", "No answer to this question was found in the submission.")
    score = f"suggested score {answer.score:.0%} (a human should confirm)"
    if answer.misconceptions:
        flagged = "; ".join(str(m.get("message", m.get("id", ""))) for m in answer.misconceptions)
        return Case(name, "fail", f"Misconception flagged: {flagged}", score)
    return Case(name, "pass", detail=score)


def _sandbox_case(result: SubmissionResult) -> Case:
    """The sandbox as a test case: failing when weaker than bubblewrap, so CI says so loudly."""
    warning = isolation_warning(result)
    if warning:
        return Case("submission.sandbox_isolation", "fail", warning)
    return Case("submission.sandbox_isolation", "pass", detail="isolation: bwrap")


def _not_graded(task: TaskResult) -> Case:
    """The one case of a task that has no checks: not attempted, or its code never ran."""
    if task.status == "missing":
        message = "No implementation was found; no check could run."
    else:
        message = f"The task is '{task.status}' and no check could run."
    status = "error" if task.status == "error" else "fail"
    return Case(f"{task.id}.implemented", status, " ".join(filter(None, (message, task.note))))


def _lines(items: Iterable[tuple[str, Any]]) -> str:
    return "\n".join(f"  {key}: {format_value(value)}" for key, value in items)


def _clean(text: str) -> str:
    """Replace characters XML 1.0 cannot represent with U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
