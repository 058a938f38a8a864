"""What the scorecard template shows, prepared from a `SubmissionResult`.

The template only lays things out; every decision (which findings get a marker on which
line, which intake entries are skipped statements, how a plot is scaled, which anchors
exist) is made here, in Python, where it can be read and tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from grader import stages
from grader.config import DEFAULT_REPORT_LIMITS, ReportLimits
from grader.report.calm import key_lines
from grader.report.facts import (
    CRITERIA,
    CheckCounts,
    all_findings,
    check_counts,
    isolation_warning,
    sandbox_isolation,
    tasks_passed,
    training_verdict,
)
from grader.report.highlight import highlight_lines, source_lines
from grader.report.plot import LANGUAGE_MODEL_TERMS, CurvePlot, curve_plot, loss_range, loss_terms
from grader.report.verdict import verdict
from grader.result import (
    CriterionScore,
    Finding,
    SubmissionResult,
    TaskResult,
    TrainingRun,
    WrittenAnswer,
)
from grader.settings import NOT_A_GRADE, describe, is_smoke, of_result
from grader.task_counts import TaskCount, task_count


@dataclass(frozen=True)
class ShownSource:
    """How much of the source the page shows (the rest is announced, with a link)."""

    text: str
    """The lines shown."""
    lines: int
    """Lines shown."""
    total_lines: int
    """Lines in the result's source."""
    hidden_chars: int
    """Characters of the source not shown."""

    @property
    def hidden_lines(self) -> int:
        return self.total_lines - self.lines


def shown_source(source: str, limits: ReportLimits) -> ShownSource:
    """The first whole lines of ``source`` within the page's limits."""
    lines = source_lines(source)
    kept, size = 0, 0
    for line in lines[: limits.shown_source_lines]:
        size += min(len(line), limits.line_chars) + 1
        if size > limits.shown_source_chars:
            break
        kept += 1
    text = "\n".join(lines[:kept])
    hidden = sum(len(line) + 1 for line in lines[kept:])
    return ShownSource(text, kept, len(lines), hidden)


@dataclass(frozen=True)
class TaskView:
    task: TaskResult
    counts: CheckCounts
    anchor: str
    count: TaskCount
    """The task's count as every report states it (`grader.task_counts`)."""


@dataclass(frozen=True)
class FindingView:
    number: int
    """1-based; the finding's element id is ``F<number>``."""
    finding: Finding
    on_line: bool
    """True when the finding's line is shown on the page, so a marker there links to it."""
    hidden: bool = False
    """True when the finding's line exists in the source but the page does not show it."""


@dataclass(frozen=True)
class CriterionView:
    name: str
    scored: CriterionScore | None
    """None when the result has no score for this criterion."""
    findings: tuple[FindingView, ...]
    """The findings the score cites, linked to where they are listed."""
    key: tuple[str, ...] = ()
    """The evidence lines that moved the score (`grader.report.calm`): the card shows them,
    the whole evidence sits in its details section."""


@dataclass(frozen=True)
class RunView:
    run: TrainingRun
    plot: CurvePlot | None
    anchor: str


@dataclass(frozen=True)
class Records:
    """A list of records (dicts) as a table: the union of their keys as columns."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class PointView:
    """One rubric point of a written answer, earned or missed, with its quotes."""

    id: str
    text: str
    """The point in words (empty for results written before points carried it)."""
    earned: bool
    quotes: tuple[str, ...]
    """The sentences that earned it."""


@dataclass(frozen=True)
class AnswerView:
    """A written answer with what its section shows beside it."""

    answer: WrittenAnswer
    anchor: str
    note: str
    """How the answer was found and what its score means, or why there is none."""
    points: tuple[PointView, ...]
    earned: int
    """Rubric points earned."""


def anchor(prefix: str, name: str) -> str:
    """An element id from a name that may hold any character (ids stay link-safe)."""
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}"


def records(items: Any) -> Records:
    """Lay out a list of dicts (or plain strings) as a table; the intake's entries have no
    fixed shape, so the columns are whatever keys the entries carry, in order of appearance."""
    entries = [i if isinstance(i, dict) else {"entry": i} for i in (items or [])]
    columns: list[str] = []
    for entry in entries:
        columns += [str(k) for k in entry if str(k) not in columns]
    rows = tuple(tuple(entry.get(c) for c in columns) for entry in entries)
    return Records(tuple(columns), rows)


def scorecard_context(
    result: SubmissionResult, limits: ReportLimits = DEFAULT_REPORT_LIMITS
) -> dict[str, Any]:
    """Everything ``scorecard.html.j2`` renders; ``limits`` bound the source shown."""
    shown = shown_source(result.source, limits)
    findings = [
        FindingView(
            n,
            f,
            f.line is not None and 1 <= f.line <= shown.lines,
            f.line is not None and shown.lines < f.line <= shown.total_lines,
        )
        for n, f in enumerate(all_findings(result), start=1)
    ]
    by_line: dict[int, tuple[int, ...]] = {}
    for view in findings:
        line = view.finding.line
        if view.on_line and line is not None:
            by_line[line] = (*by_line.get(line, ()), view.number)

    training = result.training
    y_range = loss_range(training) if training else None
    # The reference model's curve is drawn over the candidate's runs, not as a run of its own plot.
    ours = (
        next((r for r in training.runs if r.driver == "reference_model"), None)
        if training
        else None
    )
    terms = loss_terms(training.corpus) if training else LANGUAGE_MODEL_TERMS
    runs = [
        RunView(
            run,
            curve_plot(
                run,
                training.baseline_loss,
                training.entropy_floor,
                y_range,
                reference=ours if run is not ours else None,
                terms=terms,
            ),
            anchor("run", f"{i}-{run.driver}"),
        )
        for i, run in enumerate(training.runs if training else (), start=1)
    ]
    intake = dict(result.intake)
    skipped = records(intake.pop("skipped", None))
    names = [*CRITERIA, *(name for name in result.criteria if name not in CRITERIA)]
    criteria = [_criterion_view(name, result.criteria.get(name), findings) for name in names]
    passed, graded = tasks_passed(result)
    return {
        "result": result,
        "criteria": criteria,
        "tasks": [
            TaskView(t, check_counts(t), anchor("task", tid), task_count(t))
            for tid, t in result.code_tasks.items()
        ],
        "tasks_passed": passed,
        "tasks_graded": graded,
        "runs": runs,
        "loss_terms": terms,
        "lines": highlight_lines(shown.text, result.candidate_lines, by_line, limits.line_chars),
        "shown": shown,
        "code_findings": [f for f in findings if f.finding.criterion != "notebook"],
        "notebook_findings": [f for f in findings if f.finding.criterion == "notebook"],
        "finding_by_number": {f.number: f for f in findings},
        "skipped": skipped,
        "intake": intake,
        "isolation": sandbox_isolation(result.environment),
        "warning": isolation_warning(result),
        "anchor": anchor,
        "answers": [answer_view(a) for a in result.answers],
        "settings": describe(of_result(result)),
        "smoke": NOT_A_GRADE if is_smoke(of_result(result)) else "",
        "time_spent": stages.summary(result.environment),
        "verdict": verdict(result),
        "training_verdict": training_verdict(result),
    }


def answer_view(answer: WrittenAnswer) -> AnswerView:
    """A written answer as the scorecard shows it. Points are dicts in ``result.json``;
    older results carry one ``quote`` and no ``text``, newer ones ``quotes`` too."""
    points = tuple(
        PointView(
            id=str(p.get("point", "")),
            text=str(p.get("text") or ""),
            earned=bool(p.get("earned")),
            quotes=tuple(p.get("quotes") or ((p["quote"],) if p.get("quote") else ())),
        )
        for p in answer.points
    )
    note = str(getattr(answer, "note", "") or "")  # `note` is a proposed WrittenAnswer field
    if not note and not answer.found:
        note = "No answer to this question was found in the submission."
    earned = sum(p.earned for p in points)
    return AnswerView(answer, anchor("question", answer.question), note, points, earned)


def _criterion_view(
    name: str, scored: CriterionScore | None, findings: list[FindingView]
) -> CriterionView:
    cited = scored.findings if scored else ()
    key = key_lines(scored.evidence) if scored else ()
    return CriterionView(name, scored, tuple(v for v in findings if v.finding in cited), key)
