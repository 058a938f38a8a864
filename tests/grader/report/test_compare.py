"""The batch page's side-by-side view (templates/compare.js, grader/report/compare.py) in
Chromium: ticking two submissions shows their criteria, per-task counts and critical flags
next to each other, from the page alone; candidate strings stay text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader.report import write_batch, write_reports

from . import test_browser
from .fixtures import graded_result, hostile_result
from .test_browser import visit

pytestmark = pytest.mark.browser

browser = test_browser.browser  # the module's Chromium fixture, shared


def _compare(page: Any) -> dict[str, list[str]]:
    """The side-by-side table as {row label: [first value, second value]}."""
    return page.evaluate(
        """() => Object.fromEntries(Array.from(
            document.querySelectorAll('#compare-table tbody tr')).map(tr => [
                tr.cells[0].textContent,
                Array.from(tr.cells).slice(1).map(td => td.textContent)]))"""
    )


def test_two_ticked_submissions_show_side_by_side(browser: Any, batch_dir: Path) -> None:
    summary = json.loads((batch_dir / "summary.json").read_text(encoding="utf-8"))
    rows = summary["submissions"]
    with visit(browser, batch_dir / "index.html") as seen:
        page = seen.page
        assert page.locator("#compare").is_visible()
        assert page.locator("#compare-table").count() == 0  # nothing chosen yet
        boxes = page.locator("input.compare")
        assert boxes.count() == len(rows) == 2
        boxes.nth(0).check()
        boxes.nth(1).check()
        heads = page.locator("#compare-table thead th").all_text_contents()[1:]
        assert heads == [r["name"] for r in rows]
        table = _compare(page)
        for tid in rows[0]["tasks"]:
            shown = table[tid][0]
            assert shown.startswith(rows[0]["tasks"][tid]["label"]), (tid, shown)
        for name in ("completion", "optimisation", "reusability", "readability"):
            assert name in table
        flags = [f["label"] for f in rows[0]["flags"] if f["own"]]
        assert table["Critical flags"][0] == "; ".join(flags)
        assert table["Verdict"][0] == rows[0]["verdict"]
        assert not page.locator("#compare-hint").is_visible()
        boxes.nth(1).uncheck()
        assert page.locator("#compare-table").count() == 0
        assert not seen.problems and not seen.external_requests()


def test_hostile_strings_stay_text_in_the_view(browser: Any, tmp_path: Path) -> None:
    pairs = []
    for result in (graded_result(), hostile_result(graded_result())):
        folder = tmp_path / result.submission.name.replace("/", "_")[:40]
        write_reports(result, folder)
        pairs.append((result, folder))
    write_batch(pairs, tmp_path)
    with visit(browser, tmp_path / "index.html") as seen:
        page = seen.page
        boxes = page.locator("input.compare")
        boxes.nth(0).check()
        boxes.nth(1).check()
        assert page.locator("#compare-table").count() == 1
        assert page.locator("#compare-table img, #compare-table script").count() == 0
        assert not seen.problems and not seen.external_requests()
