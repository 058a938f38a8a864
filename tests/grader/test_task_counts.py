"""Every format states the same per-task count: the scorecard, result.json and summary.json,
JUnit, the Markdown summary, the CLI's closing table and the batch page are rendered from one
result, each is read back the way a reader would read it, and the counts are compared with
`grader.task_counts.task_count` (and so with each other)."""

from __future__ import annotations

import html
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from report.fixtures import _check, broken_result, graded_result

from grader.batch import Progress
from grader.report import write_batch, write_reports
from grader.result import SubmissionResult
from grader.task_counts import task_count, task_counts, training_status


def mixed_result() -> SubmissionResult:
    """The sample result with a task whose correctness checks all pass while a generality
    check fails and another is skipped: the case where the sections used to disagree
    ("7/7 checks passed" in the evidence, "8/9" in the table)."""
    result = graded_result()
    task = result.tasks["attention"]
    extra = (
        _check("attention.other_sizes", "fail", "fails at d_k = 3", criterion="reusability"),
        _check("attention.cross_lengths", "skip", "does not apply"),
    )
    tasks = dict(result.tasks)
    tasks["attention"] = replace(task, checks=(*task.checks, *extra), status="fail")
    return replace(result, tasks=tasks)


RESULTS = {"graded": graded_result, "broken": broken_result, "mixed": mixed_result}


def expected(result: SubmissionResult) -> dict[str, tuple[str, str]]:
    return {tid: (c.status, c.label) for tid, c in task_counts(result).items()}


def from_scorecard(folder: Path) -> dict[str, tuple[str, str]]:
    """The task table's rows: ``<tr data-task data-status>`` ... ``<td class="... task-count">``."""
    page = (folder / "scorecard.html").read_text(encoding="utf-8")
    rows = re.findall(
        r'<tr data-task="([^"]+)" data-status="([^"]+)">.*?class="num task-count">([^<]*)</td>',
        page,
        re.DOTALL,
    )
    return {html.unescape(tid): (status, label) for tid, status, label in rows}


def from_markdown(folder: Path) -> dict[str, tuple[str, str]]:
    text = (folder / "summary.md").read_text(encoding="utf-8")
    table = text.split("| task | status | checks passed | symbol |", 1)[1]
    out = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip().replace("\\", "") for c in line.strip("|").split("|")]
        out[cells[0]] = (cells[1], cells[2])
    return out


def from_junit(folder: Path) -> dict[str, tuple[str, str]]:
    root = ET.parse(folder / "junit.xml").getroot()
    out = {}
    for suite in root.iter("testsuite"):
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        if "task.checks" in props:
            out[suite.get("name")] = (props["task.status"], props["task.checks"])
    return out


def from_result_json(folder: Path) -> dict[str, tuple[str, str]]:
    result = SubmissionResult.from_dict(json.loads((folder / "result.json").read_text()))
    return expected(result)


def from_cli(result: SubmissionResult, out: Path, capsys: pytest.CaptureFixture) -> dict:
    Progress([result.submission.name], True, io.StringIO()).finish([result], out, out)
    line = capsys.readouterr().out.splitlines()[0]
    pairs = re.findall(r"(\S+):(pass|fail|error|missing) (\d+/\d+|missing)", line)
    return {tid: (status, label) for tid, status, label in pairs}


def from_summary(out: Path, name: str) -> tuple[dict, dict]:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = summary["submissions"] + summary["not_gradable"]
    row = next(r for r in rows if r["name"] == name)
    as_json = {tid: (c["status"], c["label"]) for tid, c in row["tasks"].items()}
    page = (out / "index.html").read_text(encoding="utf-8")
    table = page.split('<table id="submissions">', 1)[1].split("</table>", 1)[0]
    row = next(r for r in table.split("<tr>") if f">{html.escape(name)}</a>" in r)
    cells = re.findall(
        r'<td class="task" data-task="([^"]+)"[^>]*><span class="badge [^"]*" title="([^"]+)">([^<]*)</span>',
        row,
    )
    index = {html.unescape(tid): (status, label) for tid, status, label in cells}
    return as_json, index


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_every_format_states_the_same_count(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    result = RESULTS[name]()
    folder = tmp_path / result.submission.name
    write_reports(result, folder)
    write_batch([(result, folder)], tmp_path)
    want = expected(result)
    assert want, "the result has code tasks"
    formats = {
        "scorecard": from_scorecard(folder),
        "markdown": from_markdown(folder),
        "junit": from_junit(folder),
        "result.json": from_result_json(folder),
        "cli": from_cli(result, tmp_path, capsys) if result.gradable else want,
    }
    as_json, index = from_summary(tmp_path, result.submission.name)
    formats["summary.json"] = as_json
    if result.gradable:  # the batch page's table ranks graded submissions only
        formats["index"] = index
    for fmt, got in formats.items():
        assert got == want, f"{fmt}: {got} != {want}"


def test_a_failing_generality_check_is_counted_and_the_evidence_says_where_the_share_comes_from() -> (
    None
):
    result = mixed_result()
    count = task_count(result.tasks["attention"])
    before = task_count(graded_result().tasks["attention"])
    assert count.status == "fail"
    # the failing generality check counts, the skipped one does not; the share is unchanged
    assert (count.counted, count.passed) == (before.counted + 1, before.passed)
    assert count.skipped == before.skipped + 1
    assert (count.correctness_passed, count.correctness) == (
        before.correctness_passed,
        before.correctness,
    )
    from grader.scoring import completion_line

    line = completion_line(result.tasks["attention"])
    assert line.startswith(f"{result.tasks['attention'].title}: {count.label} checks passed")
    assert f"{count.correctness_passed}/{count.correctness} correctness checks" in line


def test_a_missing_task_has_no_count() -> None:
    result = broken_result()
    missing = [t for t in result.code_tasks.values() if t.status == "missing"]
    assert missing
    assert all(task_count(t).label == "missing" for t in missing)


def test_the_training_verdict_is_the_training_tasks_status() -> None:
    result = graded_result()
    training = result.tasks["training"]
    flipped = replace(result, training=replace(result.training, status="pass"))
    assert training_status(flipped) == training.status
