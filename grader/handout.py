"""Write the starter files a candidate receives: a notebook and the same cells as a ``.py`` file.

An assignment's handout is a jupytext ``py:percent`` file (``grader/assignments/<id>/``).
Its cells become the starter notebook: ``# %% [markdown]`` cells become Markdown cells with
their ``# `` prefixes removed, every other cell a code cell, with no outputs and no execution
counts (the candidate has run nothing yet). The ``.py`` file is the handout from its first
cell on; the comment lines above it are notes for us, not for the candidate.

Both files are what the grader later compares a submission against, line by line, to tell
the candidate's own lines from the handout's, so the text of each cell is copied unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat import v4

from grader.assignment import Assignment, AssignmentError
from grader.intake.parsers import parse_percent

_FIRST_CELL = re.compile(r"^# ?%%", re.MULTILINE)
"""The first ``# %%`` marker: where the candidate's part of the handout starts."""


def handout_text(assignment: Assignment) -> str:
    """The handout from its first cell marker on (our notes above it are left out)."""
    source = assignment.handout_source()
    first = _FIRST_CELL.search(source)
    if not source.strip() or first is None:
        raise AssignmentError(f"assignment {assignment.id!r} has no py:percent handout")
    return source[first.start() :]


def handout_notebook(assignment: Assignment) -> nbformat.NotebookNode:
    """The starter notebook: one notebook cell per handout cell, nothing run."""
    cells = []
    for cell in parse_percent(handout_text(assignment)):
        if cell.kind == "markdown":
            cells.append(v4.new_markdown_cell(cell.source))
        else:  # new_code_cell leaves outputs empty and execution_count None
            cells.append(v4.new_code_cell(cell.source))
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata["title"] = assignment.title
    nbformat.validate(notebook)  # a malformed handout fails here, not in the candidate's Jupyter
    return notebook


def write_handout(assignment: Assignment, out_dir: Path) -> Path:
    """Write ``<id>.ipynb`` and ``<id>.py`` into ``out_dir``; returns the notebook's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook_path = out_dir / f"{assignment.id}.ipynb"
    nbformat.write(handout_notebook(assignment), str(notebook_path))
    (out_dir / f"{assignment.id}.py").write_text(handout_text(assignment), encoding="utf-8")
    return notebook_path
