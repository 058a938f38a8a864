"""The verdict paragraph and the follow-up questions, on the sample results, in every place
they appear: the top of the scorecard, summary.md, and the batch page's rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from grader.report import write_batch, write_reports
from grader.report.verdict import MAX_QUESTIONS, MIN_QUESTIONS, verdict
from grader.result import SubmissionResult

from .fixtures import broken_result, graded_result
from .page import Page


def all_passing(result: SubmissionResult) -> SubmissionResult:
    """``result`` with every check passing: a submission that works."""
    tasks = {
        tid: replace(
            t, status="pass", score=1.0, checks=tuple(replace(c, status="pass") for c in t.checks)
        )
        for tid, t in result.tasks.items()
    }
    return replace(result, tasks=tasks, traps=())


def test_the_leaky_submission_leads_with_its_critical_flags() -> None:
    seen = verdict(graded_result())
    ids = [f.id for f in seen.flags]
    assert ids[0] == "reads_future" and "does_not_train" in ids
    assert seen.sentences[0].startswith("Critical: reads the future")
    assert "forward() does not hand the mask to attention()" in seen.paragraph
    titles = [f.title for f in seen.fails]
    assert "Multi-head self-attention" in titles
    assert seen.works == ("Causal mask generation",)
    # what works comes after the flags, what does not after what works
    assert seen.paragraph.index("Critical:") < seen.paragraph.index("Works:")
    assert seen.paragraph.index("Works:") < seen.paragraph.index("Does not work:")


def test_a_working_submission_has_no_flag_and_names_its_strengths() -> None:
    result = all_passing(graded_result())
    readable = replace(result.criteria["readability"], score=95.0)
    seen = verdict(replace(result, criteria={**result.criteria, "readability": readable}))
    assert seen.flags == ()
    assert seen.sentences[0] == f"Works: every task ({seen.tasks} of {seen.tasks})."
    assert "readable code (readability 95)" in seen.sentences[-1]
    assert not any(s.startswith("Strengths:") for s in verdict(result).sentences)
    assert MIN_QUESTIONS <= len(seen.questions) <= MAX_QUESTIONS


def test_questions_come_from_the_failures_first_and_link_to_evidence(tmp_path: Path) -> None:
    result = graded_result()
    seen = verdict(result)
    assert MIN_QUESTIONS <= len(seen.questions) <= MAX_QUESTIONS
    assert seen.questions[0].evidence == "multi_head_attention.causal"
    assert "mask" in seen.questions[0].text
    assert len({q.evidence for q in seen.questions}) == len(seen.questions)
    write_reports(result, tmp_path)
    page = Page((tmp_path / "scorecard.html").read_text(encoding="utf-8"))
    for question in seen.questions:
        assert question.href.startswith("#") and question.href[1:] in page.ids, question.href
    assert page.ids.index("verdict") < page.ids.index("criteria")  # the first section


def test_a_submission_with_little_to_ask_about_still_gets_three_questions() -> None:
    seen = verdict(broken_result())
    assert MIN_QUESTIONS <= len(seen.questions) <= MAX_QUESTIONS
    assert any("could not be run" in q.text for q in seen.questions)
    assert [f.id for f in seen.flags][:1] == ["task_missing"]


def test_summary_md_and_the_batch_page_carry_the_verdict(tmp_path: Path) -> None:
    result = graded_result()
    folder = tmp_path / result.submission.name
    write_reports(result, folder)
    write_batch([(result, folder)], tmp_path)
    seen = verdict(result)
    text = (folder / "summary.md").read_text(encoding="utf-8")
    head = text.split("| criterion |", 1)[0]
    assert "**Verdict.** Critical: reads the future" in head
    assert "**Questions for the follow-up interview:**" in head
    assert head.count("(evidence: ") == len(seen.questions)
    row = json.loads((tmp_path / "summary.json").read_text())["submissions"][0]
    assert row["verdict"] == seen.paragraph and len(row["questions"]) == len(seen.questions)
    assert [f["id"] for f in row["flags"]] == [f.id for f in seen.flags]
    page = Page((tmp_path / "index.html").read_text(encoding="utf-8"))
    assert any(a.get("title") == seen.paragraph for _, a in page.elements)  # the tooltip
    badges = [a.get("data-flag") for a in page.with_class("span", "flag")]
    assert badges == [f.id for f in seen.flags if f.own]
    assert seen.line in page.text


def test_a_result_that_is_not_gradable_says_so_first() -> None:
    result = replace(
        broken_result(), status="not_gradable", overall=None, reason="The file is empty."
    )
    seen = verdict(result)
    assert seen.sentences[0] == "Critical: not gradable: The file is empty."
    assert seen.line.startswith("not gradable")
    assert MIN_QUESTIONS <= len(seen.questions) <= MAX_QUESTIONS
