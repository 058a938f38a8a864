"""`grader.gradable`: which results carry a grade, and the not-gradable result itself."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from report.fixtures import broken_result, graded_result


def unanswered() -> SubmissionResult:
    """The graded fixture without its written answers (which alone keep a result graded)."""
    return replace(graded_result(), answers=())


from grader.assignment import get
from grader.gradable import LOAD_FAILED, decide, not_gradable
from grader.result import SubmissionResult, TaskResult, WrittenAnswer


def test_a_judged_submission_stays_graded() -> None:
    result = decide(graded_result())
    assert (result.status, result.reason, result.overall) == ("graded", "", 69.0)


def test_an_unreadable_submission_is_not_gradable_with_its_error() -> None:
    base = graded_result()
    unreadable = replace(
        base,
        submission=replace(base.submission, format="unreadable"),
        errors=("the file is empty: there is nothing to grade",),
    )
    result = decide(unreadable)
    assert (result.status, result.overall) == ("not_gradable", None)
    assert result.reason == "the file is empty: there is nothing to grade"
    assert not result.gradable


def test_code_that_does_not_load_is_not_gradable() -> None:
    base = unanswered()
    failed = replace(
        base, errors=(f"{LOAD_FAILED}: error: NameError: name 'vocab' is not defined",)
    )
    result = decide(failed)
    assert result.status == "not_gradable"
    assert result.reason == (
        "the code could not be loaded in the sandbox: NameError: name 'vocab' is not defined"
    )


def test_written_answers_keep_a_submission_graded_when_its_code_did_not_load() -> None:
    base = broken_result()
    answered = replace(
        base,
        errors=(f"{LOAD_FAILED}: error: killed after 30 s",),
        answers=(replace(base.answers[0], found=True, score=0.5),),
    )
    assert decide(answered).status == "graded"


def test_no_code_is_not_gradable_but_the_untouched_handout_is_graded() -> None:
    base = unanswered()
    nothing_ran = replace(
        base,
        environment={**base.environment, "sandbox": {"isolation": "not started"}},
        errors=("no Python code was found in the submission",),
        source="",
        candidate_lines=(),
    )
    assert decide(nothing_ran).reason == "no Python code was found in the submission"
    handout = replace(nothing_ran, source="def attention(q, k, v):\n    pass\n", errors=())
    assert decide(handout).status == "graded"  # not attempted is a judgement: 0


def test_no_task_found_is_not_gradable_and_says_how_to_map() -> None:
    base = unanswered()
    unresolved = {
        tid: TaskResult(t.id, t.title, "missing", 0.0, None, None) for tid, t in base.tasks.items()
    }
    result = decide(replace(base, tasks=unresolved))
    assert result.status == "not_gradable" and "--map TASK=SYMBOL" in result.reason


def test_a_not_gradable_result_round_trips_and_old_results_read_as_graded(tmp_path: Path) -> None:
    assignment = get("transformer_lm")
    (tmp_path / "link.ipynb").write_text("{}")
    result = not_gradable(tmp_path / "link.ipynb", "link", assignment, "refused: a link")
    data = result.to_dict()
    assert list(data)[:2] == ["schema", "status"]
    assert (data["status"], data["overall"], data["reason"]) == (
        "not_gradable",
        None,
        "refused: a link",
    )
    back = SubmissionResult.from_dict(json.loads(json.dumps(data)))
    assert back == result
    old = graded_result().to_dict()
    del old["status"], old["reason"]
    old["schema"] = "1.0"
    assert SubmissionResult.from_dict(old).status == "graded"


def test_answers_found_need_the_found_flag() -> None:
    answer = WrittenAnswer("q", "prompt?", found=False, score=0.0)
    base = broken_result()
    result = decide(replace(base, answers=(answer,), errors=(f"{LOAD_FAILED}: error: boom",)))
    assert result.status == "not_gradable"
