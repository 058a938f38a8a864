"""Reports of a result carrying the worst a submission can send: every string cleaned, every
file within its size budget, valid and inert in its format, and stable when re-rendered.

The results here are built by hand (`monster`): a 200,000-line source, thousands of
findings, an answer of megabytes, nesting deeper than any grader structure, and lone
surrogates, terminal escapes and markup in every field the candidate controls. The same
traits graded from real files through the CLI are in tests/grader/cli/test_hostile_input.py.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grader.bounded import TRUNCATED, bounded
from grader.config import ReportLimits
from grader.report import load_result, render_markdown, render_scorecard, write_reports
from grader.report.merge import merge
from grader.result import Finding, SubmissionResult
from grader.signing import Keys

from .fixtures import HOSTILE, hostile_result
from .page import Page

NASTY = "\ud83d \x1b]0;title\x07\x1b[2J\x1b[31m NUL\x00 BS\x08 DEL\x7f C1\x9b ]]> " + HOSTILE
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
BIG_LINES = 200_000


def _nested(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"down": [value]}
    return value


def monster(base: SubmissionResult) -> SubmissionResult:
    """``base`` made as large and as hostile as a submission can make it."""
    hostile = hostile_result(base)
    source = hostile.source + "".join(
        f"\nline_{i} = '{NASTY if i % 1000 == 0 else i}'" for i in range(BIG_LINES)
    )
    total = len(source.split("\n"))
    # Findings on lines kept in result.json but past the part the scorecard shows.
    many = tuple(
        Finding("readability.note", "readability", f"{NASTY} {i}", line=10_000 + i)
        for i in range(5000)
    )
    task_id, task = next(iter(hostile.tasks.items()))
    check = replace(task.checks[0], status="error", message=NASTY * 500)
    answers = tuple(replace(a, answer=NASTY * 20_000) for a in hostile.answers)
    return replace(
        hostile,
        source=source,
        candidate_lines=tuple(range(1, total + 1)),
        findings=(*hostile.findings, *many),
        tasks={**hostile.tasks, task_id: replace(task, checks=(check, *task.checks[1:]))},
        answers=answers,
        errors=(*hostile.errors, NASTY * 1000),
        intake={**hostile.intake, "deep": _nested(40), NASTY: NASTY},
        submission=replace(hostile.submission, path=f"/tmp/{NASTY}.py"),
    )


@pytest.fixture(scope="module")
def huge(graded: SubmissionResult) -> SubmissionResult:
    return monster(graded)


@pytest.fixture(scope="module")
def written(huge: SubmissionResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_reports(huge, tmp_path_factory.mktemp("huge"))


def test_every_report_is_small_utf8_and_free_of_control_characters(
    written: dict[str, Path],
) -> None:
    limit = ReportLimits().report_bytes
    assert sorted(written) == ["html", "json", "junit", "markdown"]
    for path in written.values():
        data = path.read_bytes()
        assert len(data) <= limit, f"{path.name}: {len(data):,} bytes"
        text = data.decode("utf-8")  # strict: a lone surrogate could not have been written
        assert not RAW_CONTROL.search(text.replace("\t", "")), path.name


def test_the_result_says_what_it_did_not_keep(
    huge: SubmissionResult, written: dict[str, Path]
) -> None:
    result = load_result(written["json"])
    cut = " ".join(result.intake[TRUNCATED])
    assert f"source: {len(huge.source.split(chr(10))):,} lines" in cut
    assert "findings: 5,0" in cut
    assert "nested deeper than" in cut
    kept = len(result.source.split("\n"))
    assert kept <= ReportLimits().source_lines
    assert result.candidate_lines and max(result.candidate_lines) <= kept
    assert len(result.findings) <= ReportLimits().items
    assert "more characters" in result.errors[-1] and len(result.errors[-1]) <= 20_000


def test_bounding_is_idempotent_so_re_rendering_changes_nothing(
    huge: SubmissionResult, written: dict[str, Path]
) -> None:
    once = bounded(huge)
    assert bounded(once) == once
    loaded = load_result(written["json"])
    assert loaded == bounded(loaded)
    assert written["html"].read_text(encoding="utf-8") == render_scorecard(loaded)


def test_the_scorecard_shows_a_bounded_part_of_the_code_and_says_so(
    written: dict[str, Path],
) -> None:
    html = written["html"].read_text(encoding="utf-8")
    page = Page(html)
    limits = ReportLimits()
    shown = [i for i in page.ids if re.fullmatch(r"L\d+", i)]
    assert 0 < len(shown) <= limits.shown_source_lines
    assert "code-not-shown" in page.ids
    assert 'href="result.json"' in html
    assert "(not shown on this page)" in html  # findings on lines past the shown part
    assert page.tags["script"] == 0 and page.tags["img"] == 0
    assert not any(k.startswith("on") for _, attrs in page.elements for k in attrs)


def test_a_tight_budget_is_met_by_rendering_again_with_smaller_limits(
    huge: SubmissionResult, written: dict[str, Path], tmp_path: Path
) -> None:
    limits = ReportLimits(report_bytes=1_000_000)
    assert written["html"].stat().st_size > limits.report_bytes  # too big at the first try
    paths = write_reports(huge, tmp_path, formats=("html",), limits=limits)
    assert paths["html"].stat().st_size <= limits.report_bytes


def test_markdown_has_no_raw_html_no_images_and_short_messages(huge: SubmissionResult) -> None:
    text = render_markdown(huge)
    assert not RAW_CONTROL.search(text)
    assert re.sub(r"<br>", "", text).count("<") == 0  # every other < is an entity
    assert not re.search(r"(?<!\\)!\[", text) and not re.search(r"(?<!\\)\]\(", text)
    longest = max((line for line in text.splitlines() if line.startswith("- **")), key=len)
    assert "more characters" in longest  # cut at message_chars (escaping lengthens what is kept)
    assert len(longest) < 6 * ReportLimits().message_chars


def test_junit_parses_with_hostile_text_and_short_messages(written: dict[str, Path]) -> None:
    root = ET.parse(written["junit"]).getroot()
    messages = [e.get("message", "") for e in root.iter() if e.tag in ("failure", "error")]
    assert messages and max(len(m) for m in messages) <= ReportLimits().message_chars
    assert any("]]>" in m and "<script>" in m for m in messages)  # kept as text, escaped


def test_a_hand_edited_result_is_cleaned_when_read_back(
    graded: SubmissionResult, tmp_path: Path
) -> None:
    data = graded.to_dict()
    data["submission"]["name"] = "\x1b]0;owned\x07name\ud83d"
    data["errors"] = ["\x1b[2J" * 10]
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data), encoding="ascii")  # \u escapes: valid JSON
    loaded = load_result(path)
    assert loaded.submission.name == "\u241b]0;owned\u2407name\ufffd"
    assert "\x1b" not in loaded.errors[0]


def test_summary_merges_a_result_whose_text_python_cannot_write(
    graded: SubmissionResult, tmp_path: Path
) -> None:
    """A result.json made by hand with a lone surrogate escape and terminal escapes: merged,
    its copy kept as the same data (a signature over it stays checkable), its rows clean."""
    data = graded.to_dict()
    data["submission"]["name"] = "cand\ud83d\x1b[2J"
    data["errors"] = ["\ud83d boom \x1b]0;title\x07"]
    (tmp_path / "in" / "cand").mkdir(parents=True)
    (tmp_path / "in" / "cand" / "result.json").write_text(json.dumps(data), encoding="ascii")
    merged = merge([tmp_path / "in"], tmp_path / "board", Keys())
    assert not merged.skipped and len(merged.rows) == 1
    (copy,) = (tmp_path / "board").rglob("result.json")
    assert json.loads(copy.read_text(encoding="utf-8")) == data
    for page in (tmp_path / "board").rglob("*.html"):
        assert not RAW_CONTROL.search(page.read_text(encoding="utf-8"))
    summary = json.loads(merged.summary.read_text(encoding="utf-8"))
    assert summary["submissions"][0]["name"] == "cand\ufffd\u241b[2J"
