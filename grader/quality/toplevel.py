"""The notebook's top-level code, put back after the definitions so that it can be reviewed.

The worker runs only the definitions (`grader.intake.extract` skips loops, data loading and
every other top-level statement), but a reviewer reads the whole notebook: a
``train_data.to(device)`` whose result is thrown away in a data cell is the candidate's
mistake whether or not the grader runs that cell. `review_program` therefore builds the
program the quality rules read:

    lines 1..N       the extracted program, unchanged (so every line anchor of the other
                     stages, and of the scorecard's code view, stays valid);
    lines N+1..      a marker comment, then the skipped top-level statements of each cell
                     in file order, each cell under a ``# cell <index>`` comment.

Which appended lines are the candidate's is decided as intake decides it for kept top-level
statements (`grader.intake.provenance`): a line is the handout's when the same normalised
line appears in the handout's code. IPython magics and shell lines become ``pass`` so that a
cell still parses; cells with syntax errors, magics and repeated imports are left out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from grader.intake.extract import Extracted, Skipped
from grader.intake.printed import parse_quietly
from grader.intake.provenance import Span, candidate_lines, handout_index
from grader.intake.statements import first_line
from grader.intake.submission import Submission

MARKER = "# --- top-level code of the submission: not run by the grader, kept for review ---"
"""The comment line between the extracted program and the code put back."""


@dataclass(frozen=True)
class ReviewedProgram:
    """The program the quality rules read, and where each of its lines came from."""

    source: str
    candidate_lines: frozenset[int]
    """1-based lines the candidate wrote: the extracted program's own, plus the appended
    lines that are not the handout's."""
    extracted_lines: int
    """Lines 1..extracted_lines are the extracted program; later lines are top-level code."""
    line_map: dict[int, tuple[int, int]]
    """Line -> (cell index, 1-based line in the cell), for both parts."""


@dataclass(frozen=True)
class _Statement:
    """A skipped top-level statement with its lines in its cell."""

    cell: int
    first: int
    last: int
    lines: tuple[str, ...]


def review_program(
    sub: Submission, extracted: Extracted, handout_source: str = ""
) -> ReviewedProgram:
    """``extracted.source`` followed by the top-level statements intake skipped (see the
    module docstring); ``handout_source`` (``py:percent`` text, may be empty) decides which
    appended lines are the handout's."""
    out = extracted.source.split("\n")
    if out and out[-1] == "":
        out.pop()  # the source ends with a newline
    extracted_lines = len(out)
    line_map = dict(extracted.line_map)
    spans: list[Span] = []
    previous: _Statement | None = None
    for statement in _skipped_statements(sub, extracted.skipped):
        if previous is None:
            out += ["", "", MARKER] if out else [MARKER]
        if previous is None or statement.cell != previous.cell:
            out += ["", f"# cell {statement.cell}"]
        elif statement.first > previous.last + 1:
            out.append("")  # a gap in the cell stays a gap
        start = len(out) + 1
        for offset, text in enumerate(statement.lines):
            out.append(text)
            line_map[start + offset] = (statement.cell, statement.first + offset)
        spans.append(Span(start, len(out)))
        previous = statement
    source = "\n".join(out) + "\n" if out else ""
    appended = candidate_lines(source, spans, handout_index(handout_source)) if spans else set()
    return ReviewedProgram(
        source=source,
        candidate_lines=frozenset(extracted.candidate_lines | appended),
        extracted_lines=extracted_lines,
        line_map=line_map,
    )


def _skipped_statements(sub: Submission, skipped: tuple[Skipped, ...]) -> list[_Statement]:
    """The whole text of each skipped top-level statement (intake records only its first
    line), in file order. Magics are blanked, repeated imports and unparsable cells left out."""
    magic_lines: dict[int, set[int]] = {}
    wanted: dict[int, set[int]] = {}
    for record in skipped:
        target = magic_lines if "magic" in record.effects else wanted
        target.setdefault(record.cell, set()).add(record.line)
    found = []
    for cell in sub.code_cells:
        if cell.index not in wanted:
            continue
        lines = cell.source.split("\n")
        for number in magic_lines.get(cell.index, set()):
            text = lines[number - 1]
            lines[number - 1] = text[: len(text) - len(text.lstrip())] + "pass"
        tree = parse_quietly("\n".join(lines))
        if tree is None:
            continue  # intake reports the syntax error; there is nothing to review
        previous_end = 0
        for stmt in tree.body:
            first, last = first_line(stmt), stmt.end_lineno or stmt.lineno
            if first in wanted[cell.index] and not isinstance(stmt, ast.Import | ast.ImportFrom):
                first = _comments_above(lines, first, previous_end)
                found.append(_Statement(cell.index, first, last, tuple(lines[first - 1 : last])))
            previous_end = last
    return found


def _comments_above(lines: list[str], first: int, previous_end: int) -> int:
    """First line of the comment block right above line ``first`` (no blank line between,
    not reaching into the previous statement): comments are part of what is reviewed."""
    while first - 1 > previous_end and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return first
