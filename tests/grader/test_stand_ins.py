"""One bug, one failing task, through the CLI: an attention whose softmax runs over the wrong
axis fails the attention task alone (the tasks built on it pass with a stand-in and name the
cascade), and an attention that never returns costs its own task and seconds, not the
submission's budget (grader/stand_ins.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "grader" / "cli"))
from cli_support import run_grader

BASE = (ROOT / "tests" / "catalogue" / "base.py").read_text(encoding="utf-8")
WRONG_AXIS = (ROOT / "tests" / "catalogue" / "buggy" / "softmax_wrong_dim.py").read_text(
    encoding="utf-8"
)
HANGS = '''

def attention(query, key, value, mask=None, dropout=None):
    """An accident of a timed interview: a loop whose exit condition never comes."""
    while True:
        pass
'''
DEPENDENT = ("multi_head_attention", "encoder_block", "causal_mask", "training")

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("stand_ins")
    subs = folder / "subs"
    subs.mkdir()
    (subs / "base.py").write_text(BASE, encoding="utf-8")
    (subs / "wrong_axis.py").write_text(BASE + "\n" + WRONG_AXIS, encoding="utf-8")
    (subs / "hangs.py").write_text(BASE + HANGS, encoding="utf-8")
    out = folder / "out"
    run = run_grader("grade", str(subs), "-a", "transformer_lm", "--out", str(out), "--jobs", "2")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/result.json")}


def statuses(result: dict) -> dict[str, str]:
    """Task id -> status, without the written answers' tasks (`question:<id>`)."""
    return {
        task: t["status"] for task, t in result["tasks"].items() if not task.startswith("question:")
    }


def test_a_broken_attention_fails_only_its_own_task(graded: dict[str, dict]) -> None:
    assert statuses(graded["base"]) == dict.fromkeys(statuses(graded["base"]), "pass")
    result = graded["wrong_axis"]
    assert statuses(result) == {"attention": "fail", **dict.fromkeys(DEPENDENT, "pass")}
    mha = result["tasks"]["multi_head_attention"]
    assert "fails only through `attention`" in mha["note"]
    assert mha["as_written"], "the as-written failures stay on the report"
    assert all(
        c["message"].startswith("as written, through `attention`") for c in mha["as_written"]
    )
    assert {c["name"] for c in mha["as_written"]} >= {"multi_head_attention.matches_reference"}
    assert result["criteria"]["completion"]["score"] > 60


def test_a_hanging_attention_costs_its_task_and_seconds(graded: dict[str, dict]) -> None:
    result = graded["hangs"]
    assert statuses(result) == {"attention": "error", **dict.fromkeys(DEPENDENT, "pass")}
    checks = result["tasks"]["attention"]["checks"]
    assert (
        checks[0]["status"] == "error"
        and "did not return" in checks[0]["message"]
        or "killed" in checks[0]["message"]
    )
    assert all(c["status"] == "skip" and "hangs" in c["message"] for c in checks[1:])
    assert "which hangs" in result["tasks"]["multi_head_attention"]["note"]
    hang_s = result["environment"]["grading_seconds"]
    base_s = graded["base"]["environment"]["grading_seconds"]
    print(f"\nhanging attention graded in {hang_s} s, the correct base in {base_s} s")
    assert hang_s < 2 * base_s
    assert not any("Traceback" in e for e in result["errors"])
