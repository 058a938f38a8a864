"""HTML pages from the Jinja2 templates in ``templates/``, with autoescaping on.

The candidate controls their code, their exceptions' messages and their printed output, and
all of it reaches these pages, cleaned and bounded first (`grader.bounded`); autoescaping
then makes every ``{{ value }}`` text, never markup. The only strings passed through
unescaped (`Markup`) are our own: Pygments' style sheet and the batch page's sort script.
A Content-Security-Policy in each page is the second fence: the scorecard runs no script at
all and loads nothing from the network, and the batch page runs only its own inline
script, allowed by its SHA-256 hash.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from grader.bounded import bounded
from grader.config import DEFAULT_REPORT_LIMITS, ReportLimits
from grader.report.compare import COMPARE_SCRIPT, compare_data
from grader.report.facts import CRITERIA, format_number, format_value, resolution
from grader.report.highlight import style_sheet
from grader.report.view import scorecard_context
from grader.result import AUTHORSHIP_WORDS, SubmissionResult
from grader.settings import NOT_A_GRADE, describe
from grader.signing import Verification
from grader.task_counts import task_columns

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
"""The project's top-level ``templates/`` folder (fixed by the design brief)."""

SORT_SCRIPT = "sort_table.js"
"""The batch page's only script, inlined (the page must work from an e-mail attachment)."""


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The template environment: autoescape on everywhere, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["value"] = format_value
    env.filters["num"] = format_number
    env.filters["resolution"] = resolution
    env.filters["authorship"] = lambda who: AUTHORSHIP_WORDS.get(who or "", "")
    return env


def render_scorecard(
    result: SubmissionResult,
    signature: Verification | None = None,
    limits: ReportLimits = DEFAULT_REPORT_LIMITS,
) -> str:
    """The self-contained scorecard page of one graded submission, from the result bounded
    by ``limits`` (which also cap the source shown). ``signature``: the check of the result
    file it was rendered from (``grader report``, ``grader summary``); a page from a result
    that is not verified carries a banner saying so."""
    context = scorecard_context(bounded(result, limits), limits)
    context["pygments_css"] = Markup(style_sheet(".code"))
    context["signature"] = signature
    return environment().get_template("scorecard.html.j2").render(context)


def render_index(
    rows: list[dict[str, Any]],
    warnings: list[str],
    *,
    not_gradable: list[dict[str, Any]] | None = None,
    settings: str = "",
    mixed: dict[str, list[str]] | None = None,
    mixed_keys: list[str] | None = None,
    smoke: bool = False,
) -> str:
    """The batch page: one ranked row per graded submission and, apart, one per submission
    that is not gradable (see `grader.report.batch.summary_row`); ``settings`` is the line
    of settings shared by all, ``mixed`` the settings on which they differ (label -> values;
    ``mixed_keys`` their keys, which each row then shows)."""
    script = (TEMPLATES_DIR / SORT_SCRIPT).read_text(encoding="utf-8") + (
        TEMPLATES_DIR / COMPARE_SCRIPT
    ).read_text(encoding="utf-8")  # one inline script, one hash in the CSP
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            rows=rows,
            signed=any(row["signature"] is not None for row in rows),
            untrusted=sum(row["signature"] not in (None, "verified") for row in rows),
            not_gradable=not_gradable or [],
            criteria=CRITERIA,
            task_ids=task_columns(rows),
            compare=compare_data(rows, task_columns(rows)),
            warnings=warnings,
            settings=settings,
            mixed=mixed or {},
            mixed_keys=mixed_keys or [],
            smoke=smoke,
            not_a_grade=NOT_A_GRADE,
            describe=describe,
            script=Markup(script),
            script_hash=f"sha256-{digest}",
        )
    )
