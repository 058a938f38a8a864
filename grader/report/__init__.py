"""The report stage: a `SubmissionResult` becomes files a person or a CI job reads.

Everything is rendered from the result alone (``result.json`` read back gives the same
pages), so ``grader report result.json`` can re-render an old grade with new templates.

Every file is written from the result bounded (`grader.bounded`: candidate text cleaned,
fields and lists cut) and within ``ReportLimits.report_bytes``: a report that comes out
larger is rendered again with every limit halved, so no input makes a report that a browser,
a mail server or a CI artifact viewer chokes on.

    write_reports(result, out_dir)   result.json, scorecard.html, junit.xml, summary.md
    write_batch(pairs, out_dir)      summary.json and index.html over a batch
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from grader.bounded import bounded
from grader.config import DEFAULT_REPORT_LIMITS, ReportLimits
from grader.report.batch import write_batch
from grader.report.files import ReportError, atomic_write_text, dump_json, load_result
from grader.report.html import render_scorecard
from grader.report.junit import render_junit
from grader.report.markdown import render_markdown
from grader.result import SubmissionResult
from grader.signing import Verification

__all__ = [
    "FORMATS",
    "ReportError",
    "load_result",
    "render_junit",
    "render_markdown",
    "render_result",
    "render_scorecard",
    "write_batch",
    "write_reports",
]

FIT_ATTEMPTS = 6
"""Renderings tried per report, each with the limits halved again (the last one at 1/32 of
every limit is far below any budget)."""

Renderer = Callable[[SubmissionResult, ReportLimits], str]


def _scorecard(
    result: SubmissionResult, limits: ReportLimits, signature: Verification | None = None
) -> str:
    return render_scorecard(result, signature, limits)


FORMATS: dict[str, tuple[str, Renderer]] = {
    "html": ("scorecard.html", _scorecard),
    "junit": ("junit.xml", render_junit),
    "markdown": ("summary.md", render_markdown),
}
"""Rendered formats: file name and renderer. ``json`` (``result.json``) is written apart,
first, so the pages can always be re-rendered from it."""


def render_result(result: SubmissionResult, limits: ReportLimits = DEFAULT_REPORT_LIMITS) -> str:
    """``result.json``'s text: the result bounded, as strict JSON."""
    return dump_json(bounded(result, limits).to_dict())


def fitted(
    render: Renderer, result: SubmissionResult, limits: ReportLimits = DEFAULT_REPORT_LIMITS
) -> str:
    """``render``'s text within ``limits.report_bytes``: rendered with ``limits``, then with
    every limit halved until it fits (or the attempts run out, at 1/32 of each limit)."""
    for attempt in range(FIT_ATTEMPTS):
        text = render(result, limits.scaled(0.5**attempt) if attempt else limits)
        if len(text.encode("utf-8")) <= limits.report_bytes:
            break
    return text


def write_reports(
    result: SubmissionResult,
    out_dir: Path,
    formats: Iterable[str] = ("html", "json", "junit", "markdown"),
    signature: Verification | None = None,
    limits: ReportLimits = DEFAULT_REPORT_LIMITS,
) -> dict[str, Path]:
    """Write the requested reports of one submission into ``out_dir``, each within
    ``limits``; returns the path of each format written. Unknown format names are an
    error, before anything is written. ``signature``: the check of the result file the
    reports are re-rendered from, shown on the scorecard when it is not verified."""
    formats = tuple(formats)
    unknown = sorted(set(formats) - {"json", *FORMATS})
    if unknown:
        raise ValueError(f"unknown report format(s): {', '.join(unknown)}")
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    if "json" in formats:
        text = fitted(render_result, result, limits)
        written["json"] = atomic_write_text(out_dir / "result.json", text)
    for name, (file_name, render) in FORMATS.items():
        if name in formats:
            if name == "html":
                render = partial(_scorecard, signature=signature)
            written[name] = atomic_write_text(out_dir / file_name, fitted(render, result, limits))
    return written
