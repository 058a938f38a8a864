"""summary.json and index.html over a batch."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

from grader.report import write_batch, write_reports
from grader.result import SubmissionResult

from .page import Page


def test_summary_lists_every_submission_best_first(
    batch_dir: Path, graded: SubmissionResult, broken: SubmissionResult
) -> None:
    summary = json.loads((batch_dir / "summary.json").read_text())
    assert summary["count"] == 2
    first, second = summary["submissions"]
    assert (first["name"], second["name"]) == (graded.submission.name, broken.submission.name)
    assert first["criteria"] == {k: v.score for k, v in graded.criteria.items()}
    assert second["criteria"]["readability"] is None
    assert (first["tasks_passed"], first["tasks_graded"], first["training"]) == (1, 5, "fail")
    assert (second["training"], second["errors"], second["weak_sandbox"]) == ("not run", 2, True)
    for row in summary["submissions"]:
        assert (batch_dir / row["scorecard"]).is_file() and (batch_dir / row["result"]).is_file()


def test_index_links_resolve_and_rows_follow_the_summary(batch_dir: Path) -> None:
    page = Page((batch_dir / "index.html").read_text())
    links = [h for h in page.hrefs if not h.startswith("#")]
    assert links == ["strong_but_leaky/scorecard.html", "markdown_answer/scorecard.html"]
    assert all((batch_dir / unquote(h)).is_file() for h in links)
    assert page.tags["tr"] == 1 + 2
    assert "Weak sandbox" in page.text  # one submission ran without bubblewrap


def test_the_only_script_is_the_one_the_policy_allows(batch_dir: Path) -> None:
    html = (batch_dir / "index.html").read_text()
    # The side-by-side view's data: a JSON block, which no browser executes.
    data = re.findall(
        r'<script type="application/json" id="compare-data">(.*?)</script>', html, flags=re.DOTALL
    )
    assert len(data) == 1 and json.loads(data[0])["rows"]
    html = html.replace(f'<script type="application/json" id="compare-data">{data[0]}</script>', "")
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    assert len(scripts) == 1 and "<script" not in html.replace("<script>" + scripts[0], "")
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html


def test_odd_submission_names_are_escaped_and_link_correctly(
    graded: SubmissionResult, tmp_path: Path
) -> None:
    name = 'cand #1 <b>&"x"?'
    result = replace(graded, submission=replace(graded.submission, name=name))
    folder = tmp_path / name
    write_reports(result, folder, formats=("html", "json"))
    summary, index = write_batch([(result, folder)], tmp_path)
    page = Page(index.read_text())
    (link,) = [h for h in page.hrefs if not h.startswith("#")]
    assert "#" not in link and "?" not in link and " " not in link  # percent-encoded
    assert (tmp_path / unquote(link)).is_file()
    assert page.tags["b"] == 0 and name in page.text
    assert json.loads(summary.read_text())["submissions"][0]["name"] == name
