"""Reading the real candidate submissions (``../shared/seeds``) and marked test snippets.

The seeds are read in place, never copied into the project. Their code is extracted here
with a few lines of our own (the intake module is separate): the code cells of a notebook,
the ``python`` fences of a Markdown answer that parse.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from grader.intake.submission import Submission
from grader.quality import QualityReport

SEEDS = Path(__file__).resolve().parents[3] / ".." / "shared" / "seeds"
_FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)
_EXPECT = re.compile(r"#\s*expect:\s*(.+)$")
NOTEBOOK_FORMAT = 4
"""nbformat major version the notebooks are read as."""


def seed(pattern: str) -> Path:
    """The one seed file matching ``pattern``; skips the test when the seeds are absent."""
    found = sorted(SEEDS.glob(pattern))
    if not found:
        pytest.skip(f"seed {pattern} not found in {SEEDS} (../shared/seeds is not checked out)")
    return found[0]


def notebook_code(path: Path) -> str:
    """The code cells of a notebook, joined into one program."""
    notebook = nbformat.read(path, as_version=NOTEBOOK_FORMAT)
    return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code") + "\n"


def markdown_code(path: Path) -> str:
    """The ``python`` fences of a Markdown answer that parse (one holds printed output)."""
    blocks = _FENCE.findall(path.read_text(encoding="utf-8"))
    return "\n".join(b for b in blocks if _parses(b))


def lines_matching(source: str, pattern: str) -> set[int]:
    """1-based lines of ``source`` that match the regular expression ``pattern``."""
    return {i for i, line in enumerate(source.splitlines(), 1) if re.search(pattern, line)}


def expected(source: str) -> set[tuple[str, int]]:
    """(rule, line) for each ``# expect: rule[, rule]`` comment in a test snippet."""
    marks = set()
    for number, line in enumerate(source.splitlines(), 1):
        match = _EXPECT.search(line)
        if match:
            marks |= {(rule.strip(), number) for rule in match.group(1).split(",")}
    return marks


def found(report: object, criterion: str) -> set[tuple[str, int]]:
    """(rule, line) of each finding of ``criterion`` in a `QualityReport`."""
    return {(f.rule, f.line) for f in report.by_criterion(criterion)}  # type: ignore[attr-defined]


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def line_in_file(sub: Submission, where: str) -> str:
    """The text ``Finding.where`` names in the file as handed in: ``line N`` of a text file,
    ``cell C, line N`` of a notebook."""
    numbers = [int(n) for n in re.findall(r"\d+", where)]
    if sub.format == "ipynb":
        cell, line = numbers
        return sub.cells[cell].source.split("\n")[line - 1]
    (line,) = numbers
    return Path(sub.path).read_text(encoding=sub.encoding).split("\n")[line - 1]


def assert_located(sub: Submission, report: QualityReport) -> int:
    """Every finding on a program line says where that line is in the file, and the file has
    the same text there; returns how many findings were checked."""
    program = report.source.split("\n")
    checked = 0
    for finding in report.findings:
        if finding.line is None:
            continue
        assert finding.where, finding
        assert line_in_file(sub, finding.where).rstrip() == program[finding.line - 1].rstrip()
        checked += 1
    return checked
