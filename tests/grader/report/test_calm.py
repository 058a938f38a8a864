"""The calmer first screen (grader/report/calm.py): the criteria cards show the lines that
moved the score; the method, the timings' IQRs and the "-0" lines sit in each card's
details section, still on the page."""

from __future__ import annotations

import re
from pathlib import Path

from grader.report import write_reports
from grader.report.calm import key_lines, moved_the_score

from .fixtures import graded_result

EVIDENCE = [
    "timed against the reference in alternating rounds, on the workers' CPU time",
    "attention fwd+bwd (20, 2, 35, 100): 2.97 ms (IQR 0.21) vs reference 2.88 ms (IQR 0.27) — 1.03x",
    "timed 1.06x the reference (geometric mean) — band score 100",
    "-10: opt.head-loop at line 115 (1 found). A Python loop runs the heads one after another.",
    "-0: no function above complexity 10 (4 at most).",
    "Scaled dot-product attention: 7/7 checks passed — 2.00 of 2",
    "Encoder block (post-LayerNorm): 4/6 checks passed — 1.00 of 1.5",
    "attention.cross_lengths: passed — works when query and key lengths differ",
    "multi_head_attention.heads_range: fail — breaks with one head",
    "multi_head_attention.default_construction: fail, inherited from the handout (not counted) — x",
]


def test_only_the_lines_that_moved_the_score_are_key() -> None:
    assert key_lines(EVIDENCE) == (
        EVIDENCE[2],
        EVIDENCE[3],
        EVIDENCE[6],
        EVIDENCE[8],
    )
    assert not moved_the_score("-0: 0 ruff finding(s) in 45 candidate code lines.")


def test_cards_show_the_key_lines_and_keep_every_line_in_details(tmp_path: Path) -> None:
    result = graded_result()
    write_reports(result, tmp_path)
    page = (tmp_path / "scorecard.html").read_text(encoding="utf-8")
    criteria = page.split('<section id="criteria">', 1)[1].split("</section>", 1)[0]
    cards = re.findall(
        r'<div class="card" id="criterion-(\w+)">(.*?)</details>', criteria, re.DOTALL
    )
    assert {name for name, _ in cards} == set(result.criteria)
    for name, card in cards:
        shown, details = card.split('<details class="method">', 1)
        evidence = result.criteria[name].evidence
        for line in evidence:
            escaped = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            escaped = escaped.replace('"', "&#34;").replace("'", "&#39;")
            assert escaped in details, line  # every line stays on the page
            assert (escaped in shown) == moved_the_score(line), line
