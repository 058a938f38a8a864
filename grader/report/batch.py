"""The batch summary: ``summary.json`` and ``index.html`` over every graded submission.

Each submission's reports live in their own folder under the batch's output folder; the
summary links to them by relative URL so the whole output folder can be moved, zipped or
served as it is.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from grader.report.facts import CRITERIA, isolation_warning, tasks_passed, training_verdict
from grader.report.files import atomic_write_text, dump_json
from grader.report.html import render_index
from grader.result import SCHEMA_VERSION, SubmissionResult, to_jsonable

TRAINING_RANK = {"pass": 3, "fail": 2, "error": 1, "missing": 0, "not run": -1}
"""Order of training verdicts when the batch page sorts by them: best first when descending."""


def relative_url(target: Path, start: Path) -> str:
    """A URL for ``target`` relative to the folder ``start``, with every path segment
    percent-encoded (a submission's name is the candidate's file name: any character)."""
    relative = Path(os.path.relpath(target.resolve(), start.resolve()))
    return "/".join(quote(part) for part in relative.parts)


def summary_row(result: SubmissionResult, folder: Path, out_dir: Path) -> dict[str, Any]:
    """One submission's line of the batch summary; ``folder`` holds its reports."""
    passed, graded = tasks_passed(result)
    return {
        "name": result.submission.name,
        "path": result.submission.path,
        "format": result.submission.format,
        "sha256": result.submission.sha256,
        "assignment": result.assignment,
        "overall": result.overall,
        "criteria": {
            c: result.criteria[c].score if c in result.criteria else None for c in CRITERIA
        },
        "tasks_passed": passed,
        "tasks_graded": graded,
        "training": training_verdict(result),
        "errors": len(result.errors),
        "weak_sandbox": isolation_warning(result) is not None,
        "scorecard": relative_url(folder / "scorecard.html", out_dir),
        "result": relative_url(folder / "result.json", out_dir),
    }


def write_batch(results: list[tuple[SubmissionResult, Path]], out_dir: Path) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``index.html`` into ``out_dir``.

    ``results`` pairs each result with the folder its reports were written to (usually
    ``out_dir / name``). Rows are ordered by overall grade, best first, then by name: the
    order a reader wants without JavaScript.
    """
    out_dir = Path(out_dir)
    rows = [summary_row(result, Path(folder), out_dir) for result, folder in results]
    # A grade that is not a number (a crashed scorer) sorts last rather than scrambling the order.
    rows.sort(
        key=lambda row: (
            -row["overall"] if math.isfinite(row["overall"]) else math.inf,
            row["name"],
        )
    )
    for row in rows:
        row["training_rank"] = TRAINING_RANK.get(row["training"], -1)
    warnings = sorted({w for result, _ in results if (w := isolation_warning(result))})
    summary = atomic_write_text(
        out_dir / "summary.json",
        dump_json(to_jsonable({"schema": SCHEMA_VERSION, "count": len(rows), "submissions": rows})),
    )
    index = atomic_write_text(out_dir / "index.html", render_index(rows, warnings))
    return summary, index
