"""What the batch page's side-by-side view compares (``templates/compare.js``).

The page embeds, as a JSON block the script reads, each ranked row's name, overall grade,
criteria, per-task counts (`grader.task_counts`, the same labels as the table), its own
critical flags and its verdict paragraph: nothing the table does not already show, and only
plain values, so the script writes them as text. Jinja2's ``tojson`` escapes ``<``, ``>``,
``&`` and quotes, so no value can close the script element.
"""

from __future__ import annotations

from typing import Any

from grader.report.facts import CRITERIA, format_number

COMPARE_SCRIPT = "compare.js"
"""The view's script in ``templates/``, inlined after the sorting script."""


def compare_data(rows: list[dict[str, Any]], task_ids: list[str]) -> dict[str, Any]:
    """The JSON the side-by-side view reads, from ``summary.json``'s ranked rows."""
    return {
        "criteria": list(CRITERIA),
        "tasks": task_ids,
        "rows": [
            {
                "name": str(row.get("name", "")),
                "overall": format_number(row.get("overall"), ".1f"),
                "criteria": {
                    c: format_number((row.get("criteria") or {}).get(c), ".0f") for c in CRITERIA
                },
                "tasks": {
                    tid: {"label": str(count.get("label")), "status": str(count.get("status"))}
                    for tid, count in (row.get("tasks") or {}).items()
                },
                "flags": [str(f.get("label")) for f in row.get("flags") or [] if f.get("own")],
                "verdict": str(row.get("verdict") or ""),
            }
            for row in rows
        ],
    }
