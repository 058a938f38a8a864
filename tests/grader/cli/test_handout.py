"""The starter notebook: valid, nothing run, cell for cell the handout, read back by the
grader's intake as the handout itself, and graded as "not attempted" when untouched."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from cli_support import GradedBatch

from grader import assignment as assignments
from grader.assignment import Assignment, AssignmentError
from grader.handout import handout_text, write_handout
from grader.intake import extract, load_submission
from grader.intake.parsers import parse_percent

IMPLEMENTATION_TASKS = ("attention", "multi_head_attention", "encoder_block", "causal_mask")


@pytest.fixture(scope="module")
def transformer() -> Assignment:
    return assignments.get("transformer_lm")


@pytest.fixture(scope="module")
def written(transformer: Assignment, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_handout(transformer, tmp_path_factory.mktemp("handout"))


def test_the_notebook_is_valid_and_has_run_nothing(written: Path) -> None:
    notebook = nbformat.read(written, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert notebook.metadata["kernelspec"]["language"] == "python"


def test_cells_follow_the_handouts_cells(written: Path, transformer: Assignment) -> None:
    notebook = nbformat.read(written, as_version=4)
    cells = parse_percent(handout_text(transformer))
    assert [c.cell_type for c in notebook.cells] == [c.kind for c in cells]
    assert [c.source for c in notebook.cells] == [c.source for c in cells]
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(
        "# Coding test"
    )  # no "# " prefix left
    assert "ruff: noqa" not in json.dumps(notebook)  # our notes above the first cell stay out


def test_the_python_file_is_the_handout_from_its_first_cell(
    written: Path, transformer: Assignment
) -> None:
    text = written.with_suffix(".py").read_text(encoding="utf-8")
    assert text.startswith("# %% [markdown]")
    assert transformer.handout_source().endswith(text)


@pytest.mark.parametrize("suffix", [".ipynb", ".py"])
def test_intake_reads_the_starter_files_back_as_the_handout(
    written: Path, transformer: Assignment, suffix: str
) -> None:
    submission = load_submission(written.with_suffix(suffix))
    assert submission.format == ("ipynb" if suffix == ".ipynb" else "py-percent")
    assert submission.errors == ()
    extracted = extract(submission, transformer.handout_source())
    assert extracted.syntax_errors == ()
    assert not extracted.candidate_lines  # every line is the handout's: nothing is the candidate's
    assert "def attention(" in extracted.source and "class EncoderBlock" in extracted.source


def test_an_assignment_without_a_handout_is_refused(
    transformer: Assignment, tmp_path: Path
) -> None:
    bare = Assignment(
        id="bare", title="bare", description="", folder=tmp_path, tasks=transformer.tasks
    )
    with pytest.raises(AssignmentError, match="no py:percent handout"):
        write_handout(bare, tmp_path / "out")


# --- the untouched notebook, graded with the batch (conftest.py) ---------------------------------


def graded_handout(batch: GradedBatch) -> dict:
    return json.loads(batch.result_path("untouched_handout").read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_untouched_handout_is_not_attempted_rather_than_failed(batch: GradedBatch) -> None:
    tasks = graded_handout(batch)["tasks"]
    for task in IMPLEMENTATION_TASKS:
        assert tasks[task]["status"] == "missing", task
    for task in ("multi_head_attention", "encoder_block"):
        assert "still the handout's placeholder" in tasks[task]["note"]
    assert (
        "has no function or class `fancy_kernel`" in tasks["attention"]["note"]
    )  # the batch's --map
    assert not [t for t, v in tasks.items() if v["status"] == "fail"]
    assert graded_handout(batch)["criteria"]["completion"]["score"] == 0


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_untouched_handout_has_not_attempted_training(batch: GradedBatch) -> None:
    assert graded_handout(batch)["tasks"]["training"]["status"] == "missing"


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_untouched_handout_earns_no_grade(batch: GradedBatch) -> None:
    assert graded_handout(batch)["overall"] == 0
