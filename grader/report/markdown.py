"""A Markdown summary for a CI job page (e.g. GitHub's ``$GITHUB_STEP_SUMMARY``).

Short on purpose: the grade, the four criteria, the tasks, and every failing check with its
message and counterexample; the scorecard holds the rest. Job summaries render Markdown
*and* raw HTML, so every string goes through `md` first: the result is bounded (control
characters visible, lone surrogates replaced), then HTML special characters become entities
and Markdown punctuation is backslash-escaped, so a candidate's message can neither inject
markup, nor an image fetched from elsewhere (``![x](https://...)``), nor break a table. Each
message is cut at ``ReportLimits.message_chars``.
"""

from __future__ import annotations

import html
import re

from grader.bounded import bounded
from grader.config import DEFAULT_REPORT_LIMITS, ReportLimits
from grader.report.facts import (
    CRITERIA,
    format_number,
    format_value,
    isolation_warning,
    resolution,
    tasks_passed,
    training_verdict,
)
from grader.report.verdict import verdict_lines
from grader.result import AUTHORSHIP_WORDS, SubmissionResult
from grader.settings import NOT_A_GRADE, describe, is_smoke, of_result
from grader.task_counts import task_count
from grader.text import clean

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~#!])")


def md(text: object, limit: int | None = None) -> str:
    """Escape one candidate-controlled string for a Markdown table cell or list item, cut
    at ``limit`` characters."""
    escaped = html.escape(" ".join(clean(text, limit).split()), quote=False)
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", escaped)


def render_markdown(result: SubmissionResult, limits: ReportLimits = DEFAULT_REPORT_LIMITS) -> str:
    """The CI summary of one graded submission."""
    result = bounded(result, limits)
    cap = limits.message_chars
    passed, graded = tasks_passed(result)
    grade = f"{format_number(result.overall, '.0f')}/100" if result.gradable else "not gradable"
    settings = of_result(result)
    out = [
        f"## {md(result.submission.name)}: {grade}",
        "",
        (
            f"Assignment {md(result.assignment)}, {md(result.submission.format)} submission, "
            f"{passed} of {graded} tasks passed, training: {md(training_verdict(result))}."
        ),
        "",
        f"Settings: {md(describe(settings))}.",
        "",
    ]
    if not result.gradable:
        out += [f"> **Not gradable:** {md(result.reason)} It has no grade and is not ranked.", ""]
    if is_smoke(settings):
        out += [f"> **Not a grade:** {md(NOT_A_GRADE)}", ""]
    warning = isolation_warning(result)
    if warning:
        out += [f"> **Warning:** {md(warning)}", ""]
    out += verdict_lines(result, md)
    out += [f"> **Submission error:** {md(e, cap)}" for e in result.errors]
    out += [""] if result.errors else []

    out += ["| criterion | score | evidence |", "| --- | ---: | --- |"]
    for name in CRITERIA:
        criterion = result.criteria.get(name)
        if criterion is None:
            out.append(f"| {md(name)} | — | not scored |")
        else:
            evidence = "<br>".join(md(e, cap) for e in criterion.evidence) or "—"
            out.append(f"| {md(name)} | {format_number(criterion.score, '.0f')} | {evidence} |")

    out += ["", "| task | status | checks passed | symbol |", "| --- | --- | ---: | --- |"]
    for task_id, task in result.code_tasks.items():
        count = task_count(task)
        symbol = f"{md(task.symbol)}, {md(resolution(task.resolved_by))}" if task.symbol else "—"
        out.append(f"| {md(task_id)} | {md(task.status)} | {count.label} | {symbol} |")

    failing = [
        c
        for task in result.code_tasks.values()
        for c in task.checks
        if c.status in ("fail", "error")
    ]
    if failing:
        out += ["", "### Failing checks", ""]
    for check in failing:
        who = (
            AUTHORSHIP_WORDS.get(check.authorship or "")
            if check.authorship != "candidate"
            else None
        )
        label = f", {who}" if who else ""
        out.append(f"- **{md(check.name)}** ({md(check.status)}{label}): {md(check.message, cap)}")
        if check.counterexample:
            pairs = ", ".join(
                f"{md(k)} = {md(format_value(v), cap)}" for k, v in check.counterexample.items()
            )
            out.append(f"  - counterexample: {pairs}")

    if result.traps:
        out += [
            "",
            "### Flaws of the handout",
            "",
            "| flaw | outcome | credited in | what was seen |",
        ]
        out += ["| --- | --- | --- | --- |"]
        out += [
            f"| {md(t.id)} | {md(t.status)} | {md(t.criterion) if t.credited else 'reported only'} "
            f"| {md(t.message)} |"
            for t in result.traps
        ]

    if result.training and result.training.runs:
        out += ["", "### Training", ""]
        out += [
            f"- {md(run.driver)}: **{md(run.status)}**, validation loss "
            f"{format_number(run.val_loss_before)} → {format_number(run.val_loss_after)} "
            f"after {md(run.steps)} steps. {md(run.message, cap)}"
            for run in result.training.runs
        ]

    if result.answers:
        out += ["", "### Written answers (suggested scores: a human should confirm)", ""]
    for answer in result.answers:
        verdict = f"{answer.score:.0%}" if answer.found else "no answer found"
        out.append(f"- {md(answer.question)}: {verdict}")
        out += [
            f"  - misconception: {md(m.get('message', m.get('id', '')), cap)}"
            for m in answer.misconceptions
        ]
    return "\n".join(out) + "\n"
