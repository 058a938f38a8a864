"""Reports of results that are not gradable or graded at the smoke budget, and the settings
every report shows (`grader.gradable`, `grader.settings`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from grader import settings
from grader.assignment import get
from grader.config import GraderConfig
from grader.gradable import not_gradable
from grader.report import render_markdown, render_scorecard, write_batch, write_reports
from grader.result import SubmissionResult

from .page import Page

REASON = "refused: the archive holds a path that leaves its folder ('../evil.py')"


def with_settings(result: SubmissionResult, **changes: object) -> SubmissionResult:
    recorded = {**settings.of_run(get("transformer_lm"), GraderConfig(), {}), **changes}
    return replace(result, environment={**result.environment, "settings": recorded})


def refused(tmp_path: Path) -> SubmissionResult:
    (tmp_path / "slip.zip").write_bytes(b"PK")
    result = not_gradable(tmp_path / "slip.zip", "slip", get("transformer_lm"), REASON)
    return with_settings(result)


def test_the_index_ranks_the_graded_and_lists_the_rest_apart(
    graded: SubmissionResult, tmp_path: Path
) -> None:
    pairs = []
    for result in (with_settings(graded), refused(tmp_path)):
        folder = tmp_path / "out" / result.submission.name
        write_reports(result, folder)
        pairs.append((result, folder))
    summary_path, index = write_batch(pairs, tmp_path / "out")
    summary = json.loads(summary_path.read_text())
    assert (summary["count"], summary["graded"]) == (2, 1)
    assert [r["name"] for r in summary["submissions"]] == [graded.submission.name]
    assert summary["submissions"][0]["rank"] == 1
    (apart,) = summary["not_gradable"]
    assert (apart["name"], apart["overall"], apart["reason"]) == ("slip", None, REASON)
    assert "rank" not in apart
    assert summary["settings"]["budget"] == "quick" and summary["mixed_settings"] == {}
    page = Page(index.read_text())
    assert "not-gradable" in page.ids and "settings" in page.ids
    assert REASON in page.text and "budget quick" in page.text
    assert page.text.count("slip") >= 1 and "mixed-settings" not in page.ids
    # the ranked table holds only the graded row
    assert page.tags["tr"] == 1 + 1 + 1 + 1  # two header rows, one row in each table


def test_mixed_settings_and_smoke_are_flagged_on_the_index(
    graded: SubmissionResult, tmp_path: Path
) -> None:
    quick = with_settings(graded)
    smoke = with_settings(
        replace(graded, submission=replace(graded.submission, name="other")), budget="smoke"
    )
    pairs = [(quick, tmp_path / "a"), (smoke, tmp_path / "b")]
    summary_path, index = write_batch(pairs, tmp_path)
    summary = json.loads(summary_path.read_text())
    assert summary["mixed_settings"] == {"budget": ["quick", "smoke"]}
    assert summary["settings"] is None
    page = Page(index.read_text())
    assert "mixed-settings" in page.ids and "smoke-banner" in page.ids
    assert "budget: quick / smoke" in page.text and "smoke: not a grade" in page.text


def test_the_scorecard_heads_with_settings_and_says_not_gradable(tmp_path: Path) -> None:
    page = Page(render_scorecard(refused(tmp_path)))
    assert "not-gradable" in page.ids and REASON in page.text
    assert "budget quick · corpus synthetic · splits train→valid" in page.text
    assert "/100" not in page.text  # no grade shown
    markdown = render_markdown(refused(tmp_path))
    assert markdown.startswith("## slip: not gradable")
    assert (
        "Not gradable:" in markdown
        and "Settings: assignment transformer\\_lm · budget quick" in markdown
    )


def test_a_smoke_scorecard_says_it_is_not_a_grade(graded: SubmissionResult) -> None:
    smoke = with_settings(graded, budget="smoke")
    page = Page(render_scorecard(smoke))
    assert "smoke-banner" in page.ids and "not a grade" in page.text.lower()
    assert "Not a grade" in render_markdown(smoke)
    assert "smoke-banner" not in Page(render_scorecard(with_settings(graded))).ids
