"""The batch summary: ``summary.json`` and ``index.html`` over every submission of a batch.

Each submission's reports live in their own folder under the batch's output folder; the
summary links to them by relative URL so the whole output folder can be moved, zipped or
served as it is.

Graded submissions are ranked (``submissions``, best first); those that are not gradable
(`grader.gradable`) are listed apart with the reason (``not_gradable``), never ranked. The
settings the grades were made under (`grader.settings`) head both files; results of
different settings are shown with their own settings and a warning that their grades do
not compare.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from grader import settings as run_settings
from grader.bounded import bounded
from grader.report.facts import CRITERIA, isolation_warning, tasks_passed, training_verdict
from grader.report.files import atomic_write_text, dump_json
from grader.report.html import render_index
from grader.report.verdict import verdict_row
from grader.result import SCHEMA_VERSION, SubmissionResult, to_jsonable
from grader.signing import Verification
from grader.task_counts import task_counts
from grader.text import clean

SUMMARY_FILE = "summary.json"
INDEX_FILE = "index.html"

SIGNED_CHARS = 500
"""Characters kept of a signature's reason and of the repository and commit it vouches for."""

TRAINING_RANK = {"pass": 3, "fail": 2, "error": 1, "missing": 0, "not run": -1}
"""Order of training verdicts when the batch page sorts by them: best first when descending."""
TRUST_RANK = {None: 0, "verified": 0, "unchecked": 1, "unsigned": 2, "INVALID": 3}
"""Rows whose result is not verified rank below every verified one (``None``: a batch just
graded by this grader, whose results are its own)."""


def relative_url(target: Path, start: Path) -> str:
    """A URL for ``target`` relative to the folder ``start``, with every path segment
    percent-encoded (a submission's name is the candidate's file name: any character, even
    bytes that are not UTF-8, which Python holds as lone surrogates and quotes as the bytes)."""
    relative = Path(os.path.relpath(target.resolve(), start.resolve()))
    return "/".join(quote(part, errors="surrogateescape") for part in relative.parts)


def summary_row(
    result: SubmissionResult, folder: Path, out_dir: Path, check: Verification | None = None
) -> dict[str, Any]:
    """One submission's line of the batch summary; ``folder`` holds its reports, ``check``
    is its signature check when the result was read back from a file (``grader summary``)."""
    passed, graded = tasks_passed(result)
    signed = check.provenance if check is not None and check.verified else {}
    return {
        "status": "graded" if result.gradable else "not_gradable",
        "reason": result.reason,
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
        "tasks": {tid: count.as_dict() for tid, count in task_counts(result).items()},
        **verdict_row(result),
        "errors": len(result.errors),
        "weak_sandbox": isolation_warning(result) is not None,
        "settings": run_settings.of_result(result),
        "scorecard": relative_url(folder / "scorecard.html", out_dir),
        "result": relative_url(folder / "result.json", out_dir),
        "signature": check.status if check is not None else None,
        "signature_reason": clean(check.reason, SIGNED_CHARS) if check is not None else None,
        "repository": _cleaned(signed.get("repository")),
        "commit": _cleaned(signed.get("commit")),
    }


def _cleaned(value: Any) -> Any:
    """A signed provenance field, cleaned: the signature vouches for who wrote it, not for
    what a repository name may hold."""
    return clean(value, SIGNED_CHARS) if isinstance(value, str) else value


def write_batch(
    results: list[tuple[SubmissionResult, Path]],
    out_dir: Path,
    checks: list[Verification] | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``index.html`` into ``out_dir``.

    ``results`` pairs each result with the folder its reports were written to (usually
    ``out_dir / name``); ``checks``, when given, is each one's signature check. Graded rows
    are ordered trusted first (see `TRUST_RANK`), then by overall grade, best first, then by
    name (the order a reader wants without JavaScript) and numbered; not-gradable rows follow
    apart, by name. ``settings`` are the run's (`grader.settings.of_run`); without them
    (``grader summary``) the results' own settings are shown, as one line when they agree.
    Each result is bounded first (`grader.bounded`), whoever wrote it.
    """
    out_dir = Path(out_dir)
    results = [(bounded(result), Path(folder)) for result, folder in results]
    checks_or_none = checks if checks is not None else [None] * len(results)
    rows = [
        summary_row(result, folder, out_dir, check)
        for (result, folder), check in zip(results, checks_or_none, strict=True)
    ]
    graded = [row for row in rows if row["status"] == "graded"]
    apart = sorted((row for row in rows if row["status"] != "graded"), key=lambda r: r["name"])
    # A grade that is not a number (a crashed scorer) sorts last rather than scrambling the order.
    graded.sort(
        key=lambda row: (TRUST_RANK[row["signature"]], -_number(row["overall"]), row["name"])
    )
    for rank, row in enumerate(graded, start=1):
        row["rank"] = rank
    for row in rows:
        row["training_rank"] = TRAINING_RANK.get(row["training"], -1)
        row["trust_rank"] = -TRUST_RANK[row["signature"]]  # descending puts verified first
    mixed = run_settings.spread([row["settings"] for row in rows])
    common = settings or (rows[0]["settings"] if rows and not mixed else None)
    warnings = sorted({w for result, _ in results if (w := isolation_warning(result))})
    summary = atomic_write_text(
        out_dir / SUMMARY_FILE,
        dump_json(
            to_jsonable(
                {
                    "schema": SCHEMA_VERSION,
                    "count": len(rows),
                    "graded": len(graded),
                    "settings": common,
                    "mixed_settings": mixed,
                    "submissions": graded,
                    "not_gradable": apart,
                }
            )
        ),
    )
    page = render_index(
        graded,
        warnings,
        not_gradable=apart,
        settings=run_settings.describe(common) if common else "",
        mixed={run_settings.LABELS[k]: v for k, v in mixed.items()},
        mixed_keys=list(mixed),
        smoke=any(run_settings.is_smoke(row["settings"]) for row in rows),
    )
    index = atomic_write_text(out_dir / INDEX_FILE, page)
    return summary, index


def _number(value: Any) -> float:
    """A grade for sorting: NaN and anything that is not a number sort last."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return -math.inf
    return number if math.isfinite(number) else -math.inf
