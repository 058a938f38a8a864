"""The expectations in submissions/README.md are well formed and name real things.

The scorecard tests compare the grader's results with these expectations, so a typo in a
check name or a rubric id here would silently weaken them. Nothing here runs a submission.
"""

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from grader import assignment

from . import known_checks

SUBMISSIONS_DIR = Path(__file__).resolve().parents[2] / "submissions"
README = SUBMISSIONS_DIR / "README.md"
TASK_STATUSES = {"pass", "fail", "error", "missing"}
FORMATS = {"ipynb", "py", "py-percent", "markdown", "notebook-text"}
CHECK_LISTS = ("must_fail", "must_not_pass", "inherited", "fails_as_written")
"""Lists of check names a submission's expectations may hold; ``inherited``: checks that must
fail in lines the handout wrote and the candidate kept (`CheckResult.inherited`), so they may
fail in a passing task; ``fails_as_written``: checks that fail only through another task's
broken part."""
RULE_PREFIXES = ("opt.", "reuse.", "readability.", "ruff.", "quality.", "nb.")


def expectations() -> dict[str, Any]:
    """Every ```toml block of the README, merged (each block holds its own tables)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```toml\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    merged: dict[str, Any] = {}
    for block in blocks:
        table = tomllib.loads(block)
        assert not set(table) & set(merged), f"table defined twice: {set(table) & set(merged)}"
        merged |= table
    return merged


EXPECTED = expectations()
SUBMISSIONS = {name: spec for name, spec in EXPECTED.items() if name != "ordering"}


def test_every_submission_file_has_expectations() -> None:
    files = {p.name for p in SUBMISSIONS_DIR.iterdir() if p.is_file() and p.name != "README.md"}
    assert files == {spec["file"] for spec in SUBMISSIONS.values()}
    assert len(SUBMISSIONS) >= 5


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_expectations_name_real_tasks_checks_and_rubric_points(name: str) -> None:
    spec = SUBMISSIONS[name]
    lm = assignment.get("transformer_lm")
    assert spec["format"] in FORMATS
    assert set(spec["tasks"]) == {task.id for task in lm.tasks}
    assert set(spec["tasks"].values()) <= TASK_STATUSES
    checks = known_checks()
    for field in CHECK_LISTS:
        named = set(spec.get(field, ()))
        assert named <= checks, f"{field}: unknown {named - checks}"
    for check in spec["must_fail"]:
        task = check.split(".")[0]
        assert spec["tasks"][task] != "pass", f"{check} cannot fail in a passing task"
    for rule in (*spec["findings"], *spec["no_findings"]):
        assert rule.startswith(RULE_PREFIXES), rule
    assert not set(spec["findings"]) & set(spec["no_findings"])
    questions = {q.id: q for q in lm.questions}
    assert set(spec["answers"]) <= set(questions)
    for question, points in spec["answers"].items():
        assert set(points) <= {p.id for p in questions[question].rubric}
    known_misconceptions = {m.id for q in lm.questions for m in q.misconceptions}
    assert set(spec["misconceptions"]) <= known_misconceptions


def test_ordering_names_known_submissions() -> None:
    for better, worse in EXPECTED["ordering"]["above"]:
        assert {better, worse} <= set(SUBMISSIONS)
