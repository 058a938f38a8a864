"""The generic kinds end to end: the third assignment (examples/layernorm_mlp), added as a folder
only, graded through the CLI with the verdicts its submissions/README.md lists; an assignment
with a check module of its own; and ``--budget full`` training the assignment's epochs."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from grader.config import BUDGETS, GraderConfig, TrainingBudget
from grader.kinds.generic import TrainingOptions, steps_for
from grader.training import LMOptions

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "layernorm_mlp"
sys.path.insert(0, str(ROOT / "tests" / "grader" / "cli"))
from cli_support import run_grader

EXPECTED = {
    # submission -> (task statuses, the checks that must fail)
    "correct": ({"layer_norm": "pass", "mlp_block": "pass", "regression": "pass"}, set()),
    "variance_wrong_axis": (
        {"layer_norm": "fail", "mlp_block": "pass", "regression": "pass"},
        {"layer_norm.matches_reference", "layer_norm.batch_independent"},
    ),
    "unbiased_variance": (
        {"layer_norm": "fail", "mlp_block": "pass", "regression": "pass"},
        {"layer_norm.matches_reference"},
    ),
    "missing_epsilon": (
        {"layer_norm": "fail", "mlp_block": "pass", "regression": "pass"},
        {"layer_norm.matches_reference"},
    ),
    "gelu_wrong_constant": (
        {"layer_norm": "pass", "mlp_block": "fail", "regression": "pass"},
        {"mlp_block.matches_reference"},
    ),
    "unused_second_layer": (
        {"layer_norm": "pass", "mlp_block": "fail", "regression": "pass"},
        {"mlp_block.matches_reference", "mlp_block.every_parameter_matters"},
    ),
    "no_zero_grad": (
        {"layer_norm": "pass", "mlp_block": "pass", "regression": "fail"},
        {"regression.gradients_reset", "regression.candidate_loop"},
    ),
}


def results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/result.json")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every example submission of the third assignment, graded in one CLI run."""
    out = tmp_path_factory.mktemp("layernorm_mlp")
    run = run_grader(
        "grade", str(EXAMPLE / "submissions"), "-a", str(EXAMPLE), "--out", str(out), "--jobs", "2"
    )
    assert run.returncode == 0, run.stderr
    return results(out)


@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_folder_assignment_grades_each_example_right(
    graded: dict[str, dict], name: str
) -> None:
    statuses, must_fail = EXPECTED[name]
    result = graded[name]
    assert result["assignment"] == "layernorm_mlp" and not result["errors"]
    code = {t: task for t, task in result["tasks"].items() if not t.startswith("question:")}
    assert {t: task["status"] for t, task in code.items()} == statuses
    failing = {
        c["name"]
        for task in result["tasks"].values()
        for c in task["checks"]
        if c["status"] in ("fail", "error")
    }
    assert failing == must_fail
    for task in result["tasks"].values():
        for check in task["checks"]:
            if check["status"] == "fail":
                assert check["message"], check["name"]


@pytest.mark.slow
@pytest.mark.sandbox
def test_failing_comparisons_say_how_far_and_where(graded: dict[str, dict]) -> None:
    check = next(
        c
        for c in graded["missing_epsilon"]["tasks"]["layer_norm"]["checks"]
        if c["name"] == "layer_norm.matches_reference"
    )
    assert "differs from the reference by up to" in check["message"]
    assert {"first_mismatch_index", "got", "expected", "sizes", "scale", "seed"} <= set(
        check["counterexample"]
    )
    reset = next(
        c
        for c in graded["no_zero_grad"]["tasks"]["regression"]["checks"]
        if c["name"] == "regression.gradients_reset"
    )
    assert "zero_grad" in reset["message"]
    unused = next(
        c
        for c in graded["unused_second_layer"]["tasks"]["mlp_block"]["checks"]
        if c["name"] == "mlp_block.every_parameter_matters"
    )
    assert "fc2.weight, fc2.bias" in unused["message"]


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_training_curve_and_the_baseline_are_reported(graded: dict[str, dict]) -> None:
    training = graded["correct"]["training"]
    drivers = {run["driver"]: run for run in training["runs"]}
    assert set(drivers) == {"reference_loop", "candidate_loop", "reference_model"}
    ours = drivers["reference_loop"]
    assert ours["steps"] == 150 and len(ours["curve"]) == 7  # quick: 150 steps, a point every 25
    assert ours["val_loss_after"] < 0.5 * ours["val_loss_before"]
    assert training["entropy_floor"] == 0.0025 and training["corpus"] == "reference.make_data"


PLUGIN = '''
from dataclasses import dataclass

from grader import kinds
from grader.checks.base import Violation, run_probe
from grader.kinds import Check, Kind


@dataclass(frozen=True)
class AnswerOptions:
    expected: int = 42
    """What the candidate's function must return."""


@kinds.register
class Answer(Kind):
    name = "the_answer"
    title = "a function of no arguments that returns the expected number"
    Options = AnswerOptions
    symbol_kind = "function"
    checks = (Check("returns_expected", "it returns the expected number"),)

    def check(self, run):
        def body():
            got = run.worker.call(run.symbol)
            if got != run.options.expected:
                raise Violation(f"returned {got!r}, expected {run.options.expected}")
        return [run_probe(run, "returns_expected", body, passed="returns the expected number")]
'''

PLUGIN_TOML = """
id = "answer_test"
title = "A test whose kind lives in its own check module"
handout = "handout.py"
checks = "checks.py"

[[tasks]]
id = "answer"
kind = "the_answer"
symbols = ["answer"]
options = { expected = 42 }
"""


@pytest.mark.slow
@pytest.mark.sandbox
def test_an_assignment_brings_its_own_kind_in_a_check_module(tmp_path: Path) -> None:
    folder = tmp_path / "answer_test"
    folder.mkdir()
    (folder / "assignment.toml").write_text(PLUGIN_TOML, encoding="utf-8")
    (folder / "checks.py").write_text(PLUGIN, encoding="utf-8")
    (folder / "handout.py").write_text(
        "# %%\ndef answer():\n    raise NotImplementedError\n", encoding="utf-8"
    )
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "right.py").write_text("def answer():\n    return 6 * 7\n", encoding="utf-8")
    (subs / "wrong.py").write_text("def answer():\n    return 41\n", encoding="utf-8")
    listed = run_grader("--assignments-dir", str(tmp_path), "assignments")
    assert (
        listed.returncode == 0
        and "task answer" in listed.stdout
        and "kind the_answer" in listed.stdout
    )
    out = tmp_path / "out"
    run = run_grader("grade", str(subs), "-a", str(folder), "--out", str(out))
    assert run.returncode == 0, run.stderr
    graded = results(out)
    assert graded["right"]["tasks"]["answer"]["status"] == "pass"
    wrong = graded["wrong"]["tasks"]["answer"]
    assert wrong["status"] == "fail" and "returned 41, expected 42" in wrong["checks"][0]["message"]


@pytest.mark.slow
@pytest.mark.sandbox
def test_budget_full_trains_the_assignments_epochs(tmp_path: Path) -> None:
    folder = tmp_path / "epochs"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("submissions"))
    toml = (folder / "assignment.toml").read_text(encoding="utf-8")
    start = toml.index('[[tasks]]\nid = "regression"')
    end = toml.index("[[questions]]")
    regression = (
        toml[start:end]
        .replace("  epochs = 20", "  epochs = 3")
        .replace("  batch_size = 64", "  batch_size = 128")
    )
    (folder / "assignment.toml").write_text(
        toml[: toml.index("[[tasks]]")] + regression, encoding="utf-8"
    )
    out = tmp_path / "out"
    run = run_grader(
        "grade",
        str(EXAMPLE / "submissions" / "correct.py"),
        "-a",
        str(folder),
        "--out",
        str(out),
        "--budget",
        "full",
    )
    assert run.returncode == 0, run.stderr
    training = results(out)["correct"]["training"]
    ours = next(r for r in training["runs"] if r["driver"] == "reference_loop")
    assert training["budget"] == "full"
    assert ours["steps"] == 3 * (512 // 128)  # three epochs of four minibatches


def test_an_epoch_budget_turns_into_steps_per_kind() -> None:
    full = GraderConfig(budget="full")
    assert BUDGETS["full"].training.epochs == 10
    lm = LMOptions()  # the handout's batch 20, windows of 35 tokens, 10 epochs
    assert full.training_budget.steps_for(lm.batches_per_epoch(929_589)) == 10 * 1328
    regression = TrainingOptions(data="make_data", batch_size=64, epochs=4, steps={"quick": 150})
    assert steps_for(regression, full, 512) == 4 * 8
    assert steps_for(regression, GraderConfig(budget="quick"), 512) == 150
    short = GraderConfig(
        training_override=TrainingBudget(steps=7, eval_every=7, eval_windows=1, timeout_s=9)
    )
    assert steps_for(regression, short, 512) == 7  # an explicit override wins over the table
