"""Credit and blame by authorship, without a worker: who wrote each line, which checks a
handout trap explains, the task verdicts that follow, the traps' credit, and the reports.

The submissions are the transformer handout with a few lines edited, read by the real intake
stages (the lines the grader calls the candidate's come from its own diff against the
handout); the checks are what the worker-side checks return (a traceback of the candidate's
frames named ``submission.py``, numbered as the extracted program). The CLI runs of the same
logic on real gradings are in ``tests/grader/cli/test_authorship_cli.py``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from grader.assignment import AssignmentError, get, load
from grader.authorship import judged
from grader.config import GraderConfig
from grader.intake import extract, load_submission
from grader.ownership import line_owners
from grader.quality import analyse_submission
from grader.report import write_reports
from grader.result import (
    CheckResult,
    CriterionScore,
    SubmissionInfo,
    SubmissionResult,
    TaskResult,
    WrittenAnswer,
)
from grader.scoring import completion

ASSIGNMENT = get("transformer_lm")
HANDOUT = ASSIGNMENT.handout_source()
DROPOUT_LINE = "        self.dropout = nn.Dropout(p=dropout)"
PE_FORWARD = "        x = x + self.pe[:x.size(0)]"
FILLED = {
    "    # TODO: implement scaled dot-product attention\n    raise NotImplementedError": (
        "    scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))\n"
        "    if mask is not None:\n"
        "        scores = scores.masked_fill(mask == 0, float('-inf'))\n"
        "    return scores.softmax(-1) @ value"
    ),
}


def program(edits: dict[str, str]) -> str:
    """The handout (from its first cell) with its attention filled in and ``edits`` made."""
    text = HANDOUT[HANDOUT.index("# %%") :]
    for old, new in {**FILLED, **edits}.items():
        assert old in text, old
        text = text.replace(old, new, 1)  # the first: the dropout line is in two classes
    return text


def graded(tmp_path: Path, text: str, checks: dict[str, list[CheckResult]]) -> SubmissionResult:
    """A result as the pipeline builds it before its last step, for the program ``text``."""
    path = tmp_path / "submission.py"
    path.write_text(text, encoding="utf-8")
    sub = load_submission(path)
    extracted = extract(sub, HANDOUT)
    quality = analyse_submission(sub, extracted, HANDOUT, GraderConfig().quality)
    tasks = {
        t.id: TaskResult(
            t.id,
            t.title,
            "pass" if all(c.passed for c in checks.get(t.id, [])) else "fail",
            1.0,
            t.symbols[0],
            "name",
            tuple(checks.get(t.id, [])),
            weight=t.weight,
        )
        for t in ASSIGNMENT.tasks
    }
    criteria = {
        name: CriterionScore(name, 100.0, ())
        for name in ("completion", "optimisation", "reusability", "readability")
    }
    return SubmissionResult(
        SubmissionInfo(str(path), "sub", "py-percent", "0" * 64),
        ASSIGNMENT.id,
        tasks,
        None,
        criteria,
        100.0,
        {},
        source=quality.source,
        candidate_lines=tuple(sorted(quality.candidate_lines)),
        findings=quality.findings,
    )


def line_in(source: str, text: str) -> int:
    return next(n for n, line in enumerate(source.split("\n"), 1) if line.strip() == text.strip())


def default_construction(
    source: str, status: str = "fail", line: str = DROPOUT_LINE
) -> CheckResult:
    """The check as the worker reports nn.Dropout(p=None) raising in ``line``."""
    if status == "pass":
        return CheckResult(
            "multi_head_attention.default_construction",
            "multi_head_attention",
            "pass",
            "works",
            criterion="reusability",
        )
    traceback = (
        "Traceback (most recent call last):\n"
        f'  File "submission.py", line {line_in(source, line)}, in __init__\n'
        f"    {line.strip()}\n"
        "TypeError: '<' not supported between instances of 'NoneType' and 'int'\n"
    )
    return CheckResult(
        "multi_head_attention.default_construction",
        "multi_head_attention",
        "fail",
        "MultiHeadSelfAttention(8, 2), with your default dropout=None, raised TypeError",
        {"error": "TypeError: '<' not supported", "traceback": traceback},
        criterion="reusability",
    )


def positions(
    status: str = "fail", message: str = "added along the batch axis instead"
) -> CheckResult:
    return CheckResult("training.model_uses_positions", "training", status, message)


def shape() -> CheckResult:
    """A check of the multi-head attention that passes."""
    return CheckResult("multi_head_attention.output_shape", "multi_head_attention", "pass", "ok")


def runs() -> CheckResult:
    """A check of the training task that passes."""
    return CheckResult("training.runs", "training", "pass", "ok")


def loop(status: str = "error") -> CheckResult:
    message = (
        "your train() failed: error: RuntimeError: ... Likely cause: the loop feeds (35, 20) = "
        "(seq, batch) windows from batchify to a batch-first model"
    )
    return CheckResult(
        "training.candidate_loop", "training", status, message if status != "pass" else "ok"
    )


def test_lines_are_the_candidates_the_handouts_or_changed(tmp_path: Path) -> None:
    text = program({DROPOUT_LINE: "        self.dropout = nn.Dropout(p=dropout or 0.0)"})
    result = graded(tmp_path, text, {})
    owners = line_owners(result.source, result.candidate_lines, HANDOUT)
    source = result.source
    assert (
        owners.of_line(line_in(source, "self.dropout = nn.Dropout(p=dropout or 0.0)")) == "changed"
    )
    assert owners.of_line(line_in(source, "return scores.softmax(-1) @ value")) == "candidate"
    assert owners.of_line(line_in(source, "self.linear_query = nn.Linear(dim, dim)")) == "handout"
    # A stub left as handed out is the candidate's work left undone, never "inherited".
    mha_stub = [n for n, t in owners.text.items() if t == "raiseNotImplementedError"]
    assert mha_stub and all(owners.of_line(n) == "candidate" for n in mha_stub)
    assert owners.of_symbol("PositionalEncodingTorch") == "handout"
    assert owners.of_symbol("MultiHeadSelfAttention.__init__") == "changed"


def test_a_traceback_is_the_owner_of_its_innermost_written_frame(tmp_path: Path) -> None:
    result = graded(tmp_path, program({}), {})
    owners = line_owners(result.source, result.candidate_lines, HANDOUT)
    handout_only = default_construction(result.source).counterexample["traceback"]
    assert owners.of_traceback(handout_only) == "handout"
    ours = line_in(result.source, "return scores.softmax(-1) @ value")
    through = handout_only.replace(
        "TypeError", f'  File "submission.py", line {ours}, in attention\n    x\nTypeError', 1
    )
    assert owners.of_traceback(through) == "candidate"
    assert owners.of_traceback('  File "<frozen>", line 3, in f\n') is None


def test_kept_traps_are_inherited_and_do_not_fail_their_tasks(tmp_path: Path) -> None:
    text = program({})
    result = graded(tmp_path, text, {})
    checks = {
        "multi_head_attention": [shape(), default_construction(result.source)],
        "training": [positions(), loop(), CheckResult("training.runs", "training", "pass", "ok")],
    }
    result = judged(graded(tmp_path, text, checks), ASSIGNMENT, GraderConfig())
    mha, training = result.tasks["multi_head_attention"], result.tasks["training"]
    assert mha.status == "pass" and training.status == "pass"
    assert mha.checks[1].status == "fail" and mha.checks[1].authorship == "handout"
    assert {c.name: c.authorship for c in training.checks if not c.passed} == {
        "training.model_uses_positions": "handout",
        "training.candidate_loop": "handout",
    }
    assert "inherited from the handout" in training.note
    assert {t.id: t.status for t in result.traps} == {
        "dropout_none_default": "kept",
        "positional_seq_first": "kept",
        "loop_seq_first_windows": "kept",
    }
    # Kept traps that are part of the test are missed fixes: in completion by their weight,
    # in reusability what a failed generality check costs, instead of the inherited check.
    evidence = result.criteria["reusability"].evidence
    assert any(
        e.startswith("-25: missed fix of the handout's flaw dropout_none_default") for e in evidence
    )
    assert not any("-25: multi_head_attention.default_construction" in e for e in evidence)
    assert any("positional_seq_first: kept" in e for e in result.criteria["completion"].evidence)


def test_fixes_are_credited_and_bugs_in_the_same_place_are_the_candidates(tmp_path: Path) -> None:
    fixed_text = program(
        {
            DROPOUT_LINE: "        self.dropout = nn.Dropout(p=dropout or 0.0)",
            PE_FORWARD: "        x = x + self.pe[:x.size(1)].transpose(0, 1)",
        }
    )
    fixed = graded(tmp_path, fixed_text, {})
    fixed = judged(
        graded(
            tmp_path,
            fixed_text,
            {
                "multi_head_attention": [shape(), default_construction(fixed.source, "pass")],
                "training": [runs(), positions("pass", "ok"), loop("pass")],
            },
        ),
        ASSIGNMENT,
        GraderConfig(),
    )
    assert {t.id: t.status for t in fixed.traps} == dict.fromkeys(
        ("dropout_none_default", "positional_seq_first", "loop_seq_first_windows"), "fixed"
    )

    kept_text = program({})
    kept = graded(tmp_path, kept_text, {})
    kept = judged(
        graded(
            tmp_path,
            kept_text,
            {
                "multi_head_attention": [shape(), default_construction(kept.source)],
                "training": [runs(), positions(), loop()],
            },
        ),
        ASSIGNMENT,
        GraderConfig(),
    )
    # The same tasks pass; the fixes earn their weight in completion (0.5 + 0.5 of 10).
    credit = (
        fixed.criteria["completion"].metrics["earned"]
        - kept.criteria["completion"].metrics["earned"]
    )
    assert credit == pytest.approx(1.0)
    assert fixed.criteria["reusability"].score - kept.criteria["reusability"].score == 25.0
    assert fixed.overall > kept.overall

    worse_line = "        self.dropout = nn.Dropout(p=float(dropout))"
    worse_text = program(
        {DROPOUT_LINE: worse_line, PE_FORWARD: "        x = x + self.pe[:x.size(1)]"}
    )
    worse = graded(tmp_path, worse_text, {})
    worse = judged(
        graded(
            tmp_path,
            worse_text,
            {
                "multi_head_attention": [default_construction(worse.source, line=worse_line)],
                "training": [positions(message="shape (3, 3, 50) is not (1, 3, 50)")],
            },
        ),
        ASSIGNMENT,
        GraderConfig(),
    )
    assert worse.tasks["multi_head_attention"].status == "fail"
    assert worse.tasks["multi_head_attention"].checks[0].authorship == "changed"
    assert worse.tasks["training"].status == "fail"
    traps = {t.id: t.status for t in worse.traps}
    assert traps["dropout_none_default"] == "worse" and traps["positional_seq_first"] == "worse"
    assert traps["loop_seq_first_windows"] == "not judged"


def test_a_failure_the_trap_does_not_explain_stays_the_candidates(tmp_path: Path) -> None:
    text = program({})
    result = graded(tmp_path, text, {})
    other = CheckResult(
        "training.model_uses_positions",
        "training",
        "fail",
        "no positional information reaches the model",
    )
    result = judged(
        graded(tmp_path, text, {"training": [other, loop("pass")]}), ASSIGNMENT, GraderConfig()
    )
    check = result.tasks["training"].checks[0]
    assert check.authorship is None and not check.inherited
    assert result.tasks["training"].status == "fail"
    assert {t.id: t.status for t in result.traps}["positional_seq_first"] == "not judged"


def test_written_answers_are_tasks_counted_once() -> None:
    from grader.answers.tasks import question_tasks

    answers = (
        WrittenAnswer("attention_cost", "Describe the cost", True, 0.6),
        WrittenAnswer("causal_mask_why", "Why a mask", True, 0.2),
    )
    tasks = question_tasks(answers, ASSIGNMENT, GraderConfig().answers)
    assert {k: t.status for k, t in tasks.items()} == {
        "question:attention_cost": "pass",
        "question:causal_mask_why": "fail",
    }
    missing = question_tasks(
        (replace(answers[0], found=False, score=0.0),), ASSIGNMENT, GraderConfig().answers
    )
    assert missing["question:attention_cost"].status == "missing"
    # The handout's own placeholder is no answer.
    placeholder = replace(answers[0], answer="_Write your answer here._", score=0.0)
    kept = question_tasks((placeholder,), ASSIGNMENT, GraderConfig().answers)
    assert kept["question:attention_cost"].status == "missing"
    assert "placeholder" in kept["question:attention_cost"].note
    code = TaskResult("attention", "Attention", "pass", 1.0, "attention", "name", weight=2.0)
    once = completion([code], answers, {})
    twice = completion([code, *tasks.values()], answers, {})
    assert once.score == twice.score and once.metrics == twice.metrics


def test_reports_say_inherited_from_the_handout(tmp_path: Path) -> None:
    text = program({})
    result = graded(tmp_path, text, {})
    result = judged(
        graded(
            tmp_path,
            text,
            {
                "multi_head_attention": [shape(), default_construction(result.source)],
                "training": [positions()],
            },
        ),
        ASSIGNMENT,
        GraderConfig(),
    )
    files = write_reports(result, tmp_path / "out")
    data = json.loads(files["json"].read_text())
    check = data["tasks"]["multi_head_attention"]["checks"][1]
    assert (
        check["authorship"] == "handout"
        and data["tasks"]["multi_head_attention"]["status"] == "pass"
    )
    assert {t["id"]: t["status"] for t in data["traps"]}["dropout_none_default"] == "kept"
    assert SubmissionResult.from_dict(data).traps == result.traps
    markdown = files["markdown"].read_text()
    assert "(fail, inherited from the handout)" in markdown and "Flaws of the handout" in markdown
    junit = ET.parse(files["junit"])
    case = junit.find(".//testcase[@name='multi_head_attention.default_construction']")
    assert case is not None and case.find("skipped") is not None
    assert "inherited from the handout" in case.find("skipped").get("message")
    trap = junit.find(".//testcase[@name='handout_flaw.dropout_none_default']")
    assert trap is not None and trap.find("failure") is not None
    page = files["html"].read_text()
    assert 'class="authorship handout">inherited from the handout<' in page
    assert 'id="trap-positional_seq_first"' in page


def test_old_results_load_without_the_new_fields(tmp_path: Path) -> None:
    result = graded(
        tmp_path, program({}), {"multi_head_attention": [default_construction(program({}))]}
    )
    data = result.to_dict()
    data.pop("traps")
    for task in data["tasks"].values():
        for check in task["checks"]:
            check.pop("authorship")
    again = SubmissionResult.from_dict(data)
    assert again.traps == () and again.tasks["multi_head_attention"].checks[0].authorship is None


@pytest.mark.parametrize(
    ("trap", "error"),
    [
        ({"colour": "red"}, "unknown key"),
        ({"lines": ["self.dropout = nn.Dropout(p=0.5)"]}, "has no line"),
        ({"symbols": ["Nowhere.__init__"]}, "defines no Nowhere.__init__"),
        ({"checks": ["nosuchtask.property"]}, "checks of no task"),
        ({"message": "("}, "not a regular expression"),
        ({"criterion": "style"}, "criterion 'style'"),
    ],
)
def test_malformed_traps_are_refused_with_the_reason(
    tmp_path: Path, trap: dict, error: str
) -> None:
    folder = tmp_path / "lm"
    folder.mkdir()
    (folder / "handout.py").write_text(HANDOUT, encoding="utf-8")
    toml = (ASSIGNMENT.folder / "assignment.toml").read_text(encoding="utf-8")
    body = toml[: toml.index("[[traps]]")]
    table = {
        "id": "t",
        "title": "t",
        "symbols": ["MultiHeadSelfAttention.__init__"],
        "lines": ["self.dropout = nn.Dropout(p=dropout)"],
        "checks": ["multi_head_attention.default_construction"],
        **trap,
    }
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())
    (folder / "assignment.toml").write_text(f"{body}\n[[traps]]\n{lines}\n", encoding="utf-8")
    with pytest.raises(AssignmentError, match=error):
        load(folder)
