"""``grader summary``'s merge (grader/report/merge.py): malformed results are skipped with a
reason and the rest merged; the leaderboard links only what it rendered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.config import TrustConfig
from grader.report import write_reports
from grader.report.files import ReportError, read_json
from grader.report.merge import MARKER, merge
from grader.result import SubmissionResult
from grader.signing import Keys

from .page import Page


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


MALFORMED = {
    "overall-text": lambda d: d.update(overall="excellent"),
    "overall-list": lambda d: d.update(overall=[100, 100]),
    "overall-1000": lambda d: d.update(overall=1000),
    "overall-bool": lambda d: d.update(overall=True),
    "tasks-list": lambda d: d.update(tasks=["attention"]),
    "criteria-text": lambda d: d["criteria"]["completion"].update(score="full"),
    "no-submission": lambda d: d.pop("submission"),
    "name-number": lambda d: d["submission"].update(name=7),
    "errors-objects": lambda d: d.update(errors=[{"a": 1}]),
}


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory, graded: SubmissionResult) -> Path:
    """One real result, then one hand-made broken copy per way of breaking it, and files that
    are not results at all."""
    root = tmp_path_factory.mktemp("downloads")
    write_reports(graded, root / "good" / "solution", formats=("json",))
    original = json.loads((root / "good" / "solution" / "result.json").read_text())
    for name, breaks in MALFORMED.items():
        data = json.loads(json.dumps(original))
        breaks(data)
        (root / name).mkdir()
        (root / name / "result.json").write_text(json.dumps(data))
    (root / "deep").mkdir()
    (root / "deep" / "result.json").write_text(nested(200_000))  # past the parser's recursion
    (root / "deep-dict").mkdir()
    (root / "deep-dict" / "result.json").write_text(
        json.dumps({**original, "environment": json.loads(nested(500))})
    )
    (root / "not-json").mkdir()
    (root / "not-json" / "result.json").write_bytes(b"\xff\xfe<html>")
    (root / "a-list").mkdir()
    (root / "a-list" / "result.json").write_text("[1, 2, 3]")
    return root


def test_every_malformed_result_is_skipped_with_a_reason_and_the_rest_merged(
    downloads: Path, tmp_path: Path
) -> None:
    merged = merge([downloads], tmp_path / "board", Keys())
    assert [result.submission.name for result, _, _ in merged.rows] == ["strong_but_leaky"]
    reasons = {path.parent.name: reason for path, reason in merged.skipped}
    assert set(reasons) == {*MALFORMED, "deep", "deep-dict", "not-json", "a-list"}
    assert "'overall' must be a number from 0 to 100" in reasons["overall-list"]
    assert "could not convert string to float: 'excellent'" in reasons["overall-text"]
    assert "'overall'" in reasons["overall-1000"] and "'overall'" in reasons["overall-bool"]
    assert "nested" in reasons["deep"] and "nested" in reasons["deep-dict"]
    assert "not a grader result" in reasons["a-list"]
    assert all(reason.strip() for reason in reasons.values())
    rows = json.loads((tmp_path / "board" / "summary.json").read_text())["submissions"]
    assert [(r["name"], r["signature"]) for r in rows] == [("strong_but_leaky", "unsigned")]


def test_the_leaderboard_links_only_pages_it_rendered(downloads: Path, tmp_path: Path) -> None:
    planted = downloads / "good" / "solution" / "scorecard.html"
    planted.write_text("<script>window.__planted = 1</script>")
    board = tmp_path / "board"
    merge([downloads], board, Keys())
    page = Page((board / "index.html").read_text())
    links = [h for h in page.hrefs if not h.startswith("#")]
    assert links == ["results/strong_but_leaky/scorecard.html"]
    rendered = (board / links[0]).read_text()
    assert "__planted" not in rendered and "Unsigned result" in rendered
    copy = json.loads((board / "results" / "strong_but_leaky" / "result.json").read_text())
    assert copy == json.loads((downloads / "good" / "solution" / "result.json").read_text())


def test_a_later_merge_does_not_take_the_copies_for_results(
    downloads: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(downloads / "good", runs / "good")
    merge([runs], runs / "board", Keys())
    assert (runs / "board" / MARKER).is_file()
    assert (runs / "board" / "results" / "strong_but_leaky" / "result.json").is_file()
    again = merge([runs], tmp_path / "again", Keys())
    assert [folder.name for _, folder, _ in again.rows] == ["strong_but_leaky"]


def test_result_files_are_read_with_bounds(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"schema": "1.0", "pad": "x" * 2000}))
    with pytest.raises(ReportError, match="limit for a result file"):
        read_json(path, TrustConfig(max_result_bytes=1000))
    path.write_text(nested(10))
    with pytest.raises(ReportError, match="more than 5 levels"):
        read_json(path, TrustConfig(max_json_depth=5))
    assert read_json(path) == json.loads(nested(10))
