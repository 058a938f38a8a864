"""Fixtures of the intake tests: the seeds (read from ../shared, never copied), the
transformer assignment and its handout, and a writer of small notebooks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from grader import assignment as assignments
from grader.assignment import Assignment

SEEDS = Path(__file__).resolve().parents[3] / ".." / "shared" / "seeds"


@pytest.fixture(scope="session")
def seed() -> Callable[[str], Path]:
    """Path of a seed file by name; skips the test when ../shared/seeds is not beside the
    project."""

    def path_of(name: str) -> Path:
        path = SEEDS / name
        if not path.is_file():
            pytest.skip(f"seed {name} not found in {SEEDS.resolve()} (../shared is not present)")
        return path

    return path_of


@pytest.fixture(scope="session")
def transformer() -> Assignment:
    return assignments.get("transformer_lm")


@pytest.fixture(scope="session")
def handout(transformer: Assignment) -> str:
    return transformer.handout_source()


NotebookWriter = Callable[..., Path]


@pytest.fixture
def write_notebook(tmp_path: Path) -> NotebookWriter:
    """Write an .ipynb from (kind, source[, execution_count[, stdout]]) tuples."""

    def write(*cells: tuple, name: str = "nb.ipynb") -> Path:
        notebook = nbformat.v4.new_notebook()
        for kind, source, *rest in cells:
            if kind == "markdown":
                notebook.cells.append(nbformat.v4.new_markdown_cell(source))
                continue
            count = rest[0] if rest else None
            outputs = [nbformat.v4.new_output("stream", text=rest[1])] if len(rest) > 1 else []
            cell = nbformat.v4.new_code_cell(source, execution_count=count, outputs=outputs)
            notebook.cells.append(cell)
        path = tmp_path / name
        path.write_text(nbformat.writes(notebook), encoding="utf-8")
        return path

    return write
