"""The report stage: a `SubmissionResult` becomes files a person or a CI job reads.

Everything is rendered from the result alone (``result.json`` read back gives the same
pages), so ``grader report result.json`` can re-render an old grade with new templates.

    write_reports(result, out_dir)   result.json, scorecard.html, junit.xml, summary.md
    write_batch(pairs, out_dir)      summary.json and index.html over a batch
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from grader.report.batch import write_batch
from grader.report.files import ReportError, atomic_write_text, load_result, write_result
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
    "render_scorecard",
    "write_batch",
    "write_reports",
]

FORMATS: dict[str, tuple[str, Callable[[SubmissionResult], str]]] = {
    "html": ("scorecard.html", render_scorecard),
    "junit": ("junit.xml", render_junit),
    "markdown": ("summary.md", render_markdown),
}
"""Rendered formats: file name and renderer. ``json`` (``result.json``) is written apart,
first, so the pages can always be re-rendered from it."""


def write_reports(
    result: SubmissionResult,
    out_dir: Path,
    formats: Iterable[str] = ("html", "json", "junit", "markdown"),
    signature: Verification | None = None,
) -> dict[str, Path]:
    """Write the requested reports of one submission into ``out_dir``; returns the path of
    each format written. Unknown format names are an error, before anything is written.
    ``signature``: the check of the result file the reports are re-rendered from, shown on
    the scorecard when it is not verified."""
    formats = tuple(formats)
    unknown = sorted(set(formats) - {"json", *FORMATS})
    if unknown:
        raise ValueError(f"unknown report format(s): {', '.join(unknown)}")
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    if "json" in formats:
        written["json"] = write_result(result, out_dir / "result.json")
    for name, (file_name, render) in FORMATS.items():
        if name in formats:
            text = render_scorecard(result, signature) if name == "html" else render(result)
            written[name] = atomic_write_text(out_dir / file_name, text)
    return written
