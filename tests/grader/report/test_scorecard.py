"""scorecard.html read back as HTML: escaping, anchors, the code, the plot, the banner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader.report import load_result, render_scorecard, write_batch, write_reports
from grader.report.highlight import source_lines
from grader.result import SubmissionInfo, SubmissionResult, TrainingResult, TrainingRun

from .fixtures import HOSTILE, hostile_result
from .page import Page


@pytest.fixture(scope="module")
def page(graded: SubmissionResult) -> Page:
    return Page(render_scorecard(graded))


def test_candidate_text_is_escaped_everywhere(
    graded: SubmissionResult, broken: SubmissionResult
) -> None:
    for base in (graded, broken):
        html = render_scorecard(hostile_result(base))
        parsed = Page(html)
        assert parsed.tags["script"] == 0 and parsed.tags["img"] == 0, (
            "candidate markup became elements"
        )
        assert "onerror" not in {k for _, attrs in parsed.elements for k in attrs}
        # Every planted copy is there as text: escaped, not dropped.
        planted = html.count("&lt;script&gt;window.__pwned = 1&lt;/script&gt;")
        assert planted >= (12 if base.training else 7)
        assert HOSTILE in parsed.text


def test_page_is_self_contained(page: Page, graded: SubmissionResult) -> None:
    html = render_scorecard(graded)
    assert page.tags["script"] == 0 and page.tags["link"] == 0 and page.tags["iframe"] == 0
    assert not page.srcs
    assert all(href.startswith("#") for href in page.hrefs)
    assert not re.search(r"@import|url\(", html)
    csp = next(
        a["content"] for t, a in page.elements if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in csp and "script-src" not in csp  # so no script may run


def test_ids_are_unique_and_every_in_page_link_resolves(page: Page) -> None:
    assert len(page.ids) == len(set(page.ids))
    missing = {h for h in page.hrefs if h.startswith("#") and h[1:] not in page.ids}
    assert not missing


def test_every_source_line_has_its_anchor_and_handout_lines_are_grey(
    page: Page, graded: SubmissionResult
) -> None:
    count = len(source_lines(graded.source))
    assert [i for i in page.ids if re.fullmatch(r"L\d+", i)] == [
        f"L{n}" for n in range(1, count + 1)
    ]
    rows = [a for t, a in page.elements if t == "tr" and "handout" in a.get("class", "")]
    assert len(rows) == count - len(graded.candidate_lines)


def test_findings_and_their_lines_link_both_ways(page: Page, graded: SubmissionResult) -> None:
    markers = page.with_class("a", "marker")
    anchored = [f for f in graded.findings if f.line is not None]
    assert len(markers) == len(anchored)
    for number, finding in enumerate(graded.findings, start=1):
        assert f"F{number}" in page.ids
        if finding.line is not None:
            assert f"#F{number}" in [m["href"] for m in markers]
            assert f"#L{finding.line}" in page.hrefs
    loop = next(m for m in markers if m["title"].startswith("opt.python-loop-over-heads"))
    assert loop["href"] == "#F1" and "major" in loop["class"]


def test_checks_counterexamples_and_task_resolution(graded: SubmissionResult) -> None:
    html = render_scorecard(graded)
    parsed = Page(html)
    for task in graded.tasks.values():
        for check in task.checks:
            assert f"check-{check.name}" in parsed.ids
    assert html.count('class="counterexample"') == sum(
        1 for t in graded.tasks.values() for c in t.checks if c.counterexample
    )
    assert "observed at run time" in parsed.text
    assert "leaked into position" in parsed.text


def test_one_plot_per_run_with_curves_and_dashed_references(
    page: Page, graded: SubmissionResult
) -> None:
    svgs = [a for t, a in page.elements if t == "svg"]
    assert len(svgs) == len(graded.training.runs)
    polylines = [a for t, a in page.elements if t == "polyline"]
    assert len(polylines) == 2 * len(graded.training.runs)  # validation and training loss
    for line in polylines:
        points = [tuple(map(float, p.split(","))) for p in line["points"].split()]
        assert len(points) >= 6 and all(0 <= x <= 680 and 0 <= y <= 300 for x, y in points)
    assert len(page.with_class("line", "baseline")) == 2 * len(
        graded.training.runs
    )  # plot + legend
    assert len(page.with_class("line", "floor")) == 2 * len(graded.training.runs)
    assert "unigram baseline 4.10" in page.text and "entropy floor 2.95" in page.text


def test_weak_sandbox_banner_only_when_not_bwrap(page: Page, broken: SubmissionResult) -> None:
    assert "sandbox-warning" not in page.ids
    weak = Page(render_scorecard(broken))
    assert "sandbox-warning" in weak.ids and "'rlimits-only'" in weak.text
    assert "bwrap is not installed (apt-get install bubblewrap)." in weak.text  # the sandbox's note


def test_broken_submission_says_what_went_wrong(broken: SubmissionResult) -> None:
    parsed = Page(render_scorecard(broken))
    assert "errors" in parsed.ids and "training" not in parsed.ids
    for error in broken.errors:
        assert error in parsed.text
    assert parsed.text.count("No implementation of this task was found.") == 2
    assert "Not scored." in parsed.text  # readability has no score
    assert "No answer to this question was found" in parsed.text


def test_written_answers_and_notebook_facts(page: Page, graded: SubmissionResult) -> None:
    assert "Suggested score 40 % — a human should confirm." in page.text
    assert "Misconception flagged" in page.text and "LoRA reduces" in page.text
    assert "“We can also use LoRA to make attention cheaper.”" in page.text
    assert "notebook" in page.ids and "nb.stale-output" in page.text
    assert "!pip install torchtext==0.18.0" in page.text  # a skipped statement


def test_a_bare_result_renders_in_every_format(tmp_path: Path) -> None:
    """Only the required fields, an empty training run and a non-finite grade: nothing to
    show must still give valid pages, not a template error."""
    bare = SubmissionResult(
        submission=SubmissionInfo(path="x.py", name="x", format="py", sha256=""),
        assignment="transformer_lm",
        tasks={},
        training=TrainingResult(
            "error",
            "synthetic",
            (),
            "quick",
            runs=(TrainingRun("reference_loop", "error", "crashed"),),
        ),
        criteria={},
        overall=float("nan"),
        environment={},
    )
    written = write_reports(bare, tmp_path)
    page = Page(written["html"].read_text())
    assert "No loss curve was recorded for this run." in page.text
    assert page.text.count("Not scored.") == 4 and "code" not in page.ids
    assert "sandbox-warning" in page.ids  # no isolation recorded counts as weak
    assert "## x: NaN/100" in written["markdown"].read_text()
    assert load_result(written["json"]).tasks == {}
    summary, index = write_batch([(bare, tmp_path)], tmp_path)
    assert json.loads(summary.read_text())["submissions"][0]["overall"] == "nan"
    assert "x" in Page(index.read_text()).text
