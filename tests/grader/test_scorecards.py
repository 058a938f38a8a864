"""The example submissions graded end to end, against what a careful reviewer expects
(submissions/README.md): task verdicts, the checks that must fail, the ranking, and the
scorecard a reviewer reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue.test_submissions import EXPECTED, SUBMISSIONS, SUBMISSIONS_DIR

from grader import assignment as assignments
from grader.calibration import critical_flags
from grader.config import GraderConfig
from grader.pipeline import grade_submission
from grader.report import write_reports
from grader.report.verdict import verdict
from grader.result import SubmissionResult

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[SubmissionResult, Path]]:
    """Every example submission graded once at the default budget, with its reports."""
    transformer = assignments.get("transformer_lm")
    out = tmp_path_factory.mktemp("scorecards")
    results = {}
    for name, spec in SUBMISSIONS.items():
        result = grade_submission(
            SUBMISSIONS_DIR / spec["file"], transformer, GraderConfig(), name=name
        )
        write_reports(result, out / name)
        results[name] = (result, out / name)
    return results


def statuses(result: SubmissionResult) -> dict[str, str]:
    return {check.name: check.status for task in result.tasks.values() for check in task.checks}


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_task_verdicts_are_the_reviewers(name: str, graded: dict) -> None:
    result, _ = graded[name]
    got = {task_id: task.status for task_id, task in result.code_tasks.items()}
    failing = {c: s for c, s in statuses(result).items() if s in ("fail", "error")}
    assert got == SUBMISSIONS[name]["tasks"], f"failing checks: {failing}"


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_the_checks_that_must_fail_do_and_the_others_do_not(name: str, graded: dict) -> None:
    result, _ = graded[name]
    spec, seen = SUBMISSIONS[name], statuses(result)
    for check in spec["must_fail"]:
        assert seen.get(check) in ("fail", "error"), f"{check}: {seen.get(check)}"
    for check in spec["must_not_pass"]:
        assert seen.get(check) != "pass", check
    as_written = {c.name: c.status for t in result.tasks.values() for c in t.as_written}
    for check in spec.get("fails_as_written", ()):
        assert seen.get(check) == "pass", f"{check} in isolation: {seen.get(check)}"
        assert as_written.get(check) in ("fail", "error"), f"{check} as written: {as_written}"
    authors = {c.name: c.authorship for task in result.tasks.values() for c in task.checks}
    for check in spec.get("inherited", []):
        assert seen.get(check) in ("fail", "error"), f"{check}: {seen.get(check)}"
        assert authors[check] == "handout", f"{check}: {authors[check]}"
    passing_tasks = {t for t, status in spec["tasks"].items() if status == "pass"}
    inherited = {c.name for task in result.tasks.values() for c in task.checks if c.inherited}
    unexpected = {
        c: s
        for c, s in seen.items()
        if c.split(".")[0] in passing_tasks and s in ("fail", "error") and c not in inherited
    }
    assert not unexpected, unexpected


def test_the_ranking_is_the_reviewers(graded: dict) -> None:
    overall = {name: result.overall for name, (result, _) in graded.items()}
    for better, worse in EXPECTED["ordering"]["above"]:
        assert overall[better] > overall[worse], overall


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_the_scorecard_shows_every_failing_check_with_its_message(name: str, graded: dict) -> None:
    result, folder = graded[name]
    page = (folder / "scorecard.html").read_text(encoding="utf-8")
    assert f">{result.overall:.0f}<small>/100" in page  # the grade at the top
    for task in result.tasks.values():
        for check in task.checks:
            if check.status in ("fail", "error"):
                assert check.name in page, check.name
                assert _escaped(check.message.split("\n")[0][:60]) in page, check.name
    for answer in result.answers:
        assert answer.prompt[:40] in page


def _escaped(text: str) -> str:
    """Text as Jinja2's autoescape writes it into the page."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def test_critical_failures_rank_15_points_below_every_working_submission(graded: dict) -> None:
    """Issue 17's calibration on the example submissions: every one whose own code reads the
    future, fails or crashes training, or leaves a task missing scores at least 15 points
    below every one whose tasks all pass."""
    critical, working = {}, {}
    for name, (result, _) in graded.items():
        if any(flag.caps for flag in critical_flags(result)):
            critical[name] = result.overall
        elif all(t.status == "pass" for t in result.code_tasks.values()):
            working[name] = result.overall
    assert critical and working, (critical, working)
    assert max(critical.values()) + 15 <= min(working.values()), (critical, working)


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_the_verdict_opens_the_scorecard_and_names_what_does_not_work(
    name: str, graded: dict
) -> None:
    result, folder = graded[name]
    seen = verdict(result)
    page = (folder / "scorecard.html").read_text(encoding="utf-8")
    assert page.index('id="verdict"') < page.index('id="criteria"')
    for failure in seen.fails:
        assert _escaped(failure.title) in page.split('id="criteria"')[0]
    for title in seen.missing:
        assert _escaped(title) in page.split('id="criteria"')[0]
    assert 3 <= len(seen.questions) <= 5
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "**Verdict.**" in summary.split("| criterion |")[0]
