"""junit.xml: valid XML, one suite per task, counts that match the result."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from grader.report import render_junit
from grader.result import SubmissionResult


def _parse(result: SubmissionResult) -> ET.Element:
    return ET.fromstring(render_junit(result).encode("utf-8"))


def test_one_suite_per_task_and_one_case_per_check(graded: SubmissionResult) -> None:
    root = _parse(graded)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [*graded.tasks, "written_answers", "submission"]
    for task_id, task in graded.tasks.items():
        names = [c.get("name") for c in suites[task_id].iter("testcase")]
        expected = [c.name for c in task.checks]
        if task_id == "training":  # the training runs join the training task's checks
            expected += [f"training.run.{r.driver}" for r in graded.training.runs]
        assert names == expected


def test_counts_match_the_result(graded: SubmissionResult) -> None:
    root = _parse(graded)
    checks = [c for t in graded.tasks.values() for c in t.checks]
    runs = graded.training.runs
    misconceived = sum(bool(a.misconceptions) or not a.found for a in graded.answers)
    cases = list(root.iter("testcase"))
    sandbox = 1  # the submission.sandbox_isolation case, passing under bwrap
    assert (
        len(cases)
        == int(root.get("tests"))
        == len(checks) + len(runs) + len(graded.answers) + sandbox
    )
    failures = (
        sum(c.status == "fail" for c in checks)
        + sum(r.status == "fail" for r in runs)
        + misconceived
    )
    assert len(root.findall(".//testcase/failure")) == int(root.get("failures")) == failures
    assert (
        len(root.findall(".//testcase/error"))
        == int(root.get("errors"))
        == sum(c.status == "error" for c in checks)
    )
    assert len(root.findall(".//testcase/skipped")) == int(root.get("skipped")) == 1
    for suite in root.iter("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))


def test_failures_carry_message_and_counterexample(graded: SubmissionResult) -> None:
    root = _parse(graded)
    case = root.find(".//testcase[@name='multi_head_attention.causal']")
    failure = case.find("failure")
    check = next(
        c
        for c in graded.tasks["multi_head_attention"].checks
        if c.name == "multi_head_attention.causal"
    )
    assert failure.get("message") == check.message
    assert check.message in failure.text
    assert "changed_position: 4" in failure.text and "leaked_into_position: 1" in failure.text
    assert "tolerance: 1e-05" in failure.text
    assert case.get("classname") == "transformer_lm.multi_head_attention"


def test_written_answers_fail_only_on_misconception_or_absence(graded: SubmissionResult) -> None:
    root = _parse(graded)
    lora = root.find(".//testcase[@name='question:attention_cost']")
    assert "LoRA" in lora.find("failure").get("message")
    fine = root.find(".//testcase[@name='question:causal_mask_why']")
    assert fine.find("failure") is None and "suggested score 75%" in fine.find("system-out").text


def test_broken_submission_missing_tasks_and_errors_are_not_green(broken: SubmissionResult) -> None:
    root = _parse(broken)
    names = {c.get("name"): c for c in root.iter("testcase")}
    assert names["self_attention_model.implemented"].find("failure") is not None
    assert names["training.implemented"].find("failure") is not None
    assert names["positional_encoding.implemented"].find("error") is not None  # its worker died
    errors = [
        names[f"submission.error.{i}"].find("error") for i in range(1, len(broken.errors) + 1)
    ]
    assert [e.get("message") for e in errors] == list(broken.errors)
    assert root.find(".//testcase[@name='question:stacking_issues']/failure") is not None
    sandbox = names["submission.sandbox_isolation"].find("failure")
    assert "rlimits-only" in sandbox.get("message")
    assert int(root.get("tests")) == 3 + 1 + 1 + len(
        broken.errors
    )  # tasks, answer, sandbox, errors


def test_hostile_text_stays_valid_xml(graded: SubmissionResult) -> None:
    """Candidate output may hold markup, NUL and terminal escapes; the XML must still parse
    and keep the readable part."""
    task = graded.tasks["attention"]
    nasty = "\x1b[31mboom\x00 </failure><script>alert(1)</script> ]]> & \ud800"
    bad = replace(task.checks[0], status="error", message=nasty, counterexample={"out": nasty})
    result = replace(graded, tasks={**graded.tasks, "attention": replace(task, checks=(bad,))})
    error = _parse(result).find(".//testcase[@name='attention.output_shape']/error")
    assert "<script>alert(1)</script> ]]> &" in error.get("message")
    assert "boom" in error.text and "\x00" not in error.text and "\x1b" not in error.text
