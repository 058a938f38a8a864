"""result.json: the round trip, atomic writes, and refusing what is not a result."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from grader.report import ReportError, load_result, render_scorecard, write_reports
from grader.report.files import atomic_write_text
from grader.result import CurvePoint, SubmissionResult


@pytest.mark.parametrize("name", ["graded", "broken"])
def test_json_round_trip_is_lossless(name: str, request: pytest.FixtureRequest) -> None:
    result: SubmissionResult = request.getfixturevalue(name)
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert SubmissionResult.from_dict(json.loads(text)) == result


def test_written_result_reads_back_and_renders_the_same_page(
    graded: SubmissionResult, tmp_path: Path
) -> None:
    written = write_reports(graded, tmp_path)
    assert set(written) == {"json", "html", "junit", "markdown"}
    assert {p.name for p in written.values()} == {
        "result.json",
        "scorecard.html",
        "junit.xml",
        "summary.md",
    }
    loaded = load_result(written["json"])
    assert loaded == graded
    # `grader report result.json` re-renders: the page from the file equals the original's.
    assert render_scorecard(loaded) == written["html"].read_text(encoding="utf-8")
    assert json.loads(written["json"].read_text())["schema"] == graded.schema


def test_non_finite_losses_survive_as_strict_json(graded: SubmissionResult, tmp_path: Path) -> None:
    run = graded.training.runs[0]
    diverged = replace(run, curve=(*run.curve, CurvePoint(175, float("inf"), float("nan"))))
    result = replace(graded, training=replace(graded.training, runs=(diverged,)))
    path = write_reports(result, tmp_path, formats=("json",))["json"]
    json.loads(path.read_text(), parse_constant=_reject)  # strict JSON: no bare NaN/Infinity
    last = load_result(path).training.runs[0].curve[-1]
    assert math.isnan(last.val_loss) and last.train_loss == float("inf")


def _reject(literal: str) -> None:
    raise AssertionError(f"non-standard JSON literal {literal}")


def test_only_the_requested_formats_are_written(broken: SubmissionResult, tmp_path: Path) -> None:
    written = write_reports(broken, tmp_path, formats=("junit",))
    assert list(written) == ["junit"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml"]
    with pytest.raises(ValueError, match="pdf"):
        write_reports(broken, tmp_path, formats=("html", "pdf"))


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    target.write_text("old")
    atomic_write_text(target, "new content")
    assert target.read_text() == "new content"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "half \ud800 written")  # a lone surrogate cannot be encoded
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("not json", "cannot read"),
        ("[1, 2]", "no 'schema'"),
        ('{"schema": "2.0"}', "schema 2.0"),
        ('{"schema": "1.0", "submission": {}}', "malformed"),
    ],
)
def test_load_result_refuses_what_is_not_a_result(
    content: str, complaint: str, tmp_path: Path
) -> None:
    path = tmp_path / "result.json"
    path.write_text(content)
    with pytest.raises(ReportError, match=complaint):
        load_result(path)
