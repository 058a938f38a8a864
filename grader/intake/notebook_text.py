"""Reading a notebook exported as text: ``In [N]:`` markers, then code, output and prose.

Such an export (seed 004's ``.txt`` is one) keeps a marker line per code cell and nothing
else: after the marker come the cell's code, then whatever the cell printed or displayed,
then any Markdown cells up to the next marker, separated only by blank lines. So each
segment between two markers is cut into blocks at blank lines and every block is given to
code, output or prose, in that order (code never follows output inside one segment):

1. **Code** while a block reads as code: it parses together with the code before it
   (blank lines inside a function split it into blocks, hence "together"), or it is a
   statement with a syntax error (`looks_like_code_line`). A block stops being code when it
   is output in disguise, as many reprs parse as Python: ``torch.Size([35, 20])``,
   ``tensor([[ 99, ...]], device='mps:0')``, or ``Weights:  torch.Size([20, 2, 35, 35])``
   (an annotation!). Those are told apart by `is_value_display`, by a repr-looking first
   line, and by lines that a ``print`` of the cell produces verbatim.
2. **Comment-only blocks** at the end of the code are ambiguous: a code comment or a
   Markdown heading (``## Modeling`` is both). They stay code unless they read as a
   heading (``##`` and deeper, or a short capitalised ``# Title``); a heading and all
   that follows is prose.
3. **Output** follows, until a block reads as Markdown (heading, emphasis, maths, list,
   link). A block that is neither explained by a print, nor repr-like, nor Markdown is
   output when the code could print at all, prose otherwise.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from grader.intake.printed import (
    Template,
    can_print,
    explained,
    is_value_display,
    looks_like_code_line,
    looks_like_markdown_line,
    looks_like_repr_line,
    parse_quietly,
    print_templates,
)
from grader.intake.submission import Cell, CellKind

# "In [12]:", "In [ ]:", "In [None]:" at the start of a line; IPython's console puts code on
# the same line ("In [3]: x = 1"), which is kept as the cell's first line.
_MARKER = re.compile(r"^In ?\[\s*(\d+|None|)\s*\]:[ \t]?(.*)$")
_LIST_ITEM = re.compile(r"^\s*([*+-]|\d+[.)])\s+\S")
_HEADING = re.compile(r"^#{2,6}\s+\S")
_TITLE_COMMENT = re.compile(r"^#\s+[A-Z][^:=()\[\]{}]{0,60}$")


@dataclass(frozen=True)
class _Block:
    """Consecutive non-blank lines of a segment."""

    start: int
    """Index of its first line in the segment."""
    lines: tuple[str, ...]

    @property
    def end(self) -> int:
        return self.start + len(self.lines)

    @property
    def comment_only(self) -> bool:
        return all(line.lstrip().startswith("#") for line in self.lines)

    @property
    def heading(self) -> bool:
        if all(_HEADING.match(line) for line in self.lines):
            return True
        return len(self.lines) == 1 and bool(_TITLE_COMMENT.match(self.lines[0]))


def has_markers(text: str) -> bool:
    """Whether ``text`` holds at least one ``In [N]:`` marker line."""
    return any(_MARKER.match(line) for line in text.split("\n"))


def parse_notebook_text(text: str) -> list[Cell]:
    """The cells of a notebook exported as text, in file order."""
    lines = text.split("\n")
    markers = [i for i, line in enumerate(lines) if _MARKER.match(line)]
    cells: list[Cell] = []

    def add(
        kind: CellKind, source: str, offset: int, count: int | None = None, out: str = ""
    ) -> None:
        cells.append(Cell(len(cells), kind, source, count, out, line_offset=offset))

    preamble = "\n".join(lines[: markers[0] if markers else len(lines)]).strip("\n")
    if preamble.strip():
        add("markdown", preamble, _leading_blank(lines))
    for k, at in enumerate(markers):
        match = _MARKER.match(lines[at])
        assert match is not None
        count = int(match.group(1)) if match.group(1).isdigit() else None
        segment_start = at + 1
        segment = lines[segment_start : markers[k + 1] if k + 1 < len(markers) else len(lines)]
        if match.group(2).strip():  # console style: code on the marker line
            segment, segment_start = [match.group(2), *segment], at
        code, output, prose = _split_segment(segment)
        code_start = code[0].start if code else 0
        source = "\n".join(segment[code_start : code[-1].end]) if code else ""
        add("code", source, segment_start + code_start, count, _join(segment, output))
        if prose:
            add("markdown", _join(segment, prose), segment_start + prose[0].start)
    return cells


def _split_segment(lines: list[str]) -> tuple[list[_Block], list[_Block], list[_Block]]:
    """(code, output, prose) blocks of the text between two markers."""
    blocks = _blocks(lines)
    reader = _CodeReader(lines)
    pending: list[_Block] = []  # comment-only blocks: code if more code follows
    rest = len(blocks)
    for i, block in enumerate(blocks):
        if block.comment_only:
            pending.append(block)
        elif reader.continues(block, pending):
            pending = []
        else:
            rest = i
            break

    # Trailing comments are code up to the first one that reads as a Markdown heading.
    code, prose = reader.code, []
    for j, block in enumerate(pending):
        if block.heading:
            code, prose = code + pending[:j], pending[j:]
            break
    else:
        code = code + pending

    tree = parse_quietly(_join(lines, code)) if code else None
    templates = print_templates(tree) if tree else ()
    prints = tree is not None and can_print(tree)
    output: list[_Block] = []
    for block in blocks[rest:]:
        if prose or not _is_output(block, templates, prints, bool(output)):
            prose.append(block)
        else:
            output.append(block)
    return code, output, prose


class _CodeReader:
    """Accepts blocks as code while they continue it (see the module docstring).

    Whether a block continues the code is asked by parsing it together with the code
    before it, but only from the start of the last complete top-level statement (the
    ``anchor``): an indented block continues that statement or nothing. So each block is
    parsed with a bounded amount of text and a long segment costs linear time, not
    quadratic. ``budget`` caps the characters parsed in one segment all the same, and
    the prints remembered; past the budget, blocks are judged by how their first line
    starts."""

    MAX_TEMPLATES = 1000

    def __init__(self, lines: list[str], budget: int = 2_000_000) -> None:
        self.lines = lines
        self.code: list[_Block] = []
        self.anchor: int | None = None  # first line of the last top-level statement
        self.templates: dict[Template, None] = {}  # prints of the accepted code, in order
        self.budget = budget

    def continues(self, block: _Block, comments: list[_Block]) -> bool:
        """Accept ``block`` (with the comment blocks before it) if it is code."""
        first = block.lines[0]
        if looks_like_repr_line(first):
            return False
        own = self._parse(block.start, block.end, dedent=True)
        if own is not None and is_value_display(own):
            return False
        templates = tuple(self.templates)
        if templates and all(explained(line, templates) for line in block.lines):
            return False
        start = self.anchor if self.anchor is not None else (comments or [block])[0].start
        together = self._parse(start, block.end)
        code_like = looks_like_code_line(first) and not looks_like_markdown_line(first)
        if together is None and not code_like:
            return False
        self.code += [*comments, block]
        if together is None or not together.body:
            self.anchor = block.start  # a syntax error: start afresh from this block
            return True
        self.anchor = start + together.body[-1].lineno - 1
        for template in print_templates(together):
            if len(self.templates) < self.MAX_TEMPLATES:
                self.templates[template] = None
        return True

    def _parse(self, start: int, end: int, dedent: bool = False) -> ast.Module | None:
        """Parse lines ``start:end`` of the segment while the budget lasts."""
        if self.budget <= 0:
            return None
        lines = tuple(self.lines[start:end])
        text = _dedented(lines) if dedent else "\n".join(lines)
        self.budget -= len(text)
        return parse_quietly(text)


def _is_output(
    block: _Block, templates: tuple[Template, ...], prints: bool, in_output: bool
) -> bool:
    """Whether ``block`` (after the code) is output rather than prose."""
    if any(explained(line, templates) for line in block.lines):
        return True
    first = block.lines[0]
    if looks_like_markdown_line(first) or _LIST_ITEM.match(first):
        return False
    if looks_like_repr_line(first) or (in_output and first[:1].isspace()):
        return True  # a repr, or the indented rest of one split by a blank line
    tree = parse_quietly(_dedented(block.lines))
    if tree is not None and is_value_display(tree):
        return True
    return prints


def _blocks(lines: list[str]) -> list[_Block]:
    blocks, current, start = [], [], 0
    for i, line in enumerate([*lines, ""]):
        if line.strip():
            if not current:
                start = i
            current.append(line)
        elif current:
            blocks.append(_Block(start, tuple(current)))
            current = []
    return blocks


def _join(lines: list[str], blocks: list[_Block]) -> str:
    """The text from the first to the last of ``blocks``, blank lines included."""
    return "\n".join(lines[blocks[0].start : blocks[-1].end]) if blocks else ""


def _dedented(lines: tuple[str, ...]) -> str:
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return "\n".join(line[indent:] for line in lines)


def _leading_blank(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if line.strip():
            return i
    return 0
