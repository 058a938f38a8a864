"""Assignments as folders: what loads, and what a malformed one says (it never loads in silence).

Each malformed folder here is the third assignment (examples/layernorm_mlp) with one thing
broken, so the message is the only thing under test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import assignment as assignments
from grader.assignment import AssignmentError
from grader.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "layernorm_mlp"


def broken(tmp_path: Path, old: str, new: str, *, file: str = "assignment.toml") -> Path:
    """A copy of the example assignment with ``old`` replaced by ``new`` in ``file``."""
    folder = tmp_path / "broken"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("submissions"))
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{file} no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def test_the_three_assignments_load_with_typed_options() -> None:
    transformer = assignments.get("transformer_lm")
    assert [t.kind for t in transformer.tasks] == [
        "attention",
        "multi_head_attention",
        "encoder_block",
        "causal_mask",
        "lm_training",
    ]
    lm = transformer.task("training").options
    assert (lm.bptt, lm.batch_size, lm.epochs, lm.loop_optimizer) == (35, 20, 10, "adam")
    assert transformer.task("training").parts["train"][0] == "train"
    example = assignments.get(str(EXAMPLE))
    assert example.id == "layernorm_mlp" and example.reference_file == "reference.py"
    layer_norm = example.task("layer_norm").options
    assert layer_norm.inputs["x"].shape == ("batch", "seq", "dim")
    assert layer_norm.inputs["x"].scales == (0.01, 1.0, 100.0)
    assert layer_norm.dims["dim"] == (2, 16)
    assert example.task("mlp_block").options.init == {"dim": 8, "hidden": 32}


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            'kind = "function"',
            'kind = "fuction"',
            ["unknown kind 'fuction'", "known kinds:", "function", "lm_training"],
        ),
        (
            'kind = "function"',
            'suite = "function"',
            ["unknown key(s) suite", "`suite` is now `kind`"],
        ),
        (
            '  reference = "layer_norm"',
            '  reference = "layer_norm"\n  tolerance = 1e-3',
            ["unknown option(s) tolerance", "known:", "rtol", "atol"],
        ),
        (
            '  reference = "layer_norm"',
            '  reference = "layernorm"',
            ["reference.py defines no 'layernorm'", "layer_norm", "MLPBlock"],
        ),
        ("  min_drop = 0.5", '  min_drop = "half"', ["min_drop", "expected a number"]),
        (
            '  equivariant = ["seq"]',
            '  equivariant = ["time"]',
            ["'time' is not a dimension of any input"],
        ),
        (
            'reference = "reference.py"',
            'reference = "solution.py"',
            ["reference = 'solution.py': no such file"],
        ),
        (
            'handout = "handout.py"',
            'handout = "../../etc/passwd"',
            ["lies outside the assignment's folder"],
        ),
        (
            '[[tasks]]\nid = "mlp_block"',
            '[[tasks]]\nid = "layer_norm"',
            ["task id repeated: layer_norm"],
        ),
        (
            "[criterion_weights]\n",
            "[criterion_weights]\nelegance = 0.1\n",
            ["criterion_weights: unknown key(s) elegance"],
        ),
        ("parts = { train = ", "parts = { loop = ", ["parts: unknown key(s) loop", "known: train"]),
    ],
)
def test_a_malformed_assignment_names_the_problem_and_the_alternatives(
    tmp_path: Path, old: str, new: str, words: list[str]
) -> None:
    folder = broken(tmp_path, old, new)
    with pytest.raises(AssignmentError) as caught:
        assignments.load(folder)
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))


def test_a_reference_option_without_reference_py_is_an_error(tmp_path: Path) -> None:
    folder = broken(tmp_path, 'reference = "reference.py"\n', "")
    with pytest.raises(AssignmentError, match="has no reference.py"):
        assignments.load(folder)


def test_a_broken_check_module_is_the_assignments_error(tmp_path: Path) -> None:
    folder = broken(
        tmp_path, 'reference = "reference.py"', 'reference = "reference.py"\nchecks = "checks.py"'
    )
    (folder / "checks.py").write_text("import no_such_package\n", encoding="utf-8")
    with pytest.raises(AssignmentError, match="check module failed to import: ModuleNotFoundError"):
        assignments.load(folder)


def test_cli_exits_2_on_a_malformed_assignment_in_grade_and_in_assignments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = broken(tmp_path, 'kind = "function"', 'kind = "fuction"')
    submission = EXAMPLE / "submissions" / "correct.py"
    assert main(["grade", str(submission), "-a", str(folder), "--out", str(tmp_path / "out")]) == 2
    assert "unknown kind 'fuction'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing was graded
    assert main(["--assignments-dir", str(tmp_path), "assignments"]) == 2
    listing = capsys.readouterr()
    assert "transformer_lm:" in listing.out  # the good ones are still listed
    assert "unknown kind 'fuction'" in listing.err


def test_grader_assignments_lists_the_folder_assignment_with_its_kinds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--assignments-dir", str(EXAMPLE.parent), "assignments"]) == 0
    out = capsys.readouterr().out
    assert "layernorm_mlp:" in out
    assert "task layer_norm" in out and "kind function" in out and "kind training" in out
