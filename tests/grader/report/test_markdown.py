"""summary.md: what a CI job page shows, and that candidate text cannot break it."""

from __future__ import annotations

from dataclasses import replace

from grader.report import render_markdown
from grader.report.markdown import md
from grader.result import SubmissionResult


def test_grade_criteria_and_tasks(graded: SubmissionResult) -> None:
    text = render_markdown(graded)
    assert text.startswith("## strong\\_but\\_leaky: 69/100\n")
    assert "1 of 5 tasks passed, training: fail." in text
    for name, criterion in graded.criteria.items():
        assert f"| {name} | {criterion.score:.0f} |" in text
    assert "| causal\\_mask | pass | 5/5 | Generate\\_Mask, observed at run time |" in text
    assert "Weak sandbox" not in text and "Warning" not in text  # bwrap: no warning


def test_every_failing_check_is_listed_with_message_and_counterexample(
    graded: SubmissionResult,
) -> None:
    text = render_markdown(graded)
    failing = [c for t in graded.tasks.values() for c in t.checks if c.status in ("fail", "error")]
    passing = [c for t in graded.tasks.values() for c in t.checks if c.status == "pass"]
    section = text.split("### Failing checks", 1)[1].split("###", 1)[0]
    for check in failing:
        assert f"- **{md(check.name)}** ({check.status}): {md(check.message)}" in section
    assert not any(md(c.name) + "**" in section for c in passing)
    assert "changed\\_position = 4" in section and "tolerance = 1e-05" in section


def test_training_and_answers(graded: SubmissionResult) -> None:
    text = render_markdown(graded)
    assert "- reference\\_loop: **fail**, validation loss 4.160 → 2.020 after 150 steps." in text
    assert "- attention\\_cost: 40%" in text
    assert "  - misconception: LoRA reduces" in text


def test_broken_submission_warns_and_says_what_is_missing(broken: SubmissionResult) -> None:
    text = render_markdown(broken)
    assert "> **Warning:** Candidate code ran with sandbox isolation 'rlimits-only'" in text
    assert text.count("> **Submission error:**") == len(broken.errors)
    assert "| readability | — | not scored |" in text
    assert "| self\\_attention\\_model | missing | missing | — |" in text
    assert "training: not run" in text and "### Failing checks" not in text


def test_candidate_text_cannot_inject_markup_or_break_a_table(graded: SubmissionResult) -> None:
    task = graded.tasks["attention"]
    hostile = "a | b\n<script>alert(1)</script> [x](javascript:alert(1)) `code` *bold*"
    check = replace(task.checks[0], status="fail", message=hostile)
    renamed = replace(graded.submission, name="<img src=x onerror=alert(1)>")
    result = replace(
        graded,
        submission=renamed,
        tasks={**graded.tasks, "attention": replace(task, checks=(check,))},
    )
    text = render_markdown(result)
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "a \\| b" in text and "\\[x\\](javascript:alert(1))" in text and "\\`code\\`" in text
    # Each table row still has its four cells: no candidate pipe split one.
    for line in text.splitlines():
        if line.startswith("| attention |"):
            assert line.count(" | ") == 3
