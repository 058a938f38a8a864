"""Where each question's answer is: prose lines, the question's anchors, the answer's region.

1. **Prose lines.** Markdown cells give their lines; code cells give their full-line comments
   and their top-level string statements (a ``.py`` answer lives there). Every other code
   line is *code*, and code ends an answer.
2. **Anchors.** A line is where a question is asked (an anchor) when it repeats most of the
   prompt, or holds one of the question's ``match`` phrases and looks like a question (a
   heading, an emphasised line, a ``?``, a ``Q1.`` marker).
3. **Regions.** The answer is what follows its anchor, up to the next code, the next anchor
   of another question, or the next heading at the level of the question's section or
   above. When a question is asked twice (the handout's copy, then the candidate's), the
   longer answer wins. With no anchor at all, the prose block that earns the most rubric
   points is taken, if it earns enough of them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from grader.answers.matching import compiled, matching
from grader.answers.text import HEADING, capped, plain, sentences
from grader.assignment import Question
from grader.config import DEFAULT_ANSWERS, AnswerConfig
from grader.intake.submission import Cell


@dataclass(frozen=True)
class Line:
    """One line of the submission as the answer finder sees it."""

    text: str
    """The line's text: Markdown as written, comment markers removed."""
    cell: int
    """Index of the cell the line is in."""
    code: bool = False
    """A line of code (not a comment or a string statement): it ends any answer."""

    @property
    def heading(self) -> int | None:
        """The Markdown heading level (1 for ``#``), or None."""
        match = HEADING.match(self.text)
        return len(match.group(1)) if match else None


_TRIPLE_QUOTES = re.compile(r'^[rRuU]?("""|\'\'\')|("""|\'\'\')$')
_FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(cells: Sequence[Cell]) -> list[Line]:
    """Every line of every cell, in file order, with a blank line between cells (a cell
    boundary is a paragraph break). Fenced code inside a Markdown cell is left out: it is
    neither prose to score nor code that ends the answer around it."""
    lines: list[Line] = []
    for cell in cells:
        if cell.kind == "markdown":
            inside_fence = False
            for text in cell.source.split("\n"):
                if _FENCE.match(text):
                    inside_fence = not inside_fence
                elif not inside_fence:
                    lines.append(Line(text, cell.index))
        else:
            lines += _code_cell_lines(cell)
        lines.append(Line("", cell.index))
    return lines


def _code_cell_lines(cell: Cell) -> list[Line]:
    """A code cell's lines: comments and top-level string statements are prose (``#`` and
    quotes removed), blank lines are paragraph breaks, everything else is code."""
    raw = cell.source.split("\n")
    in_string = _string_statement_lines(cell.source)
    out = []
    for number, text in enumerate(raw, start=1):
        stripped = text.strip()
        if number in in_string:
            out.append(Line(_TRIPLE_QUOTES.sub("", stripped), cell.index))
        elif stripped.startswith("#"):
            # "#    scores, ..." keeps its indentation after the marker: it continues a paragraph.
            out.append(Line(re.sub(r"^#+ ?", "", stripped), cell.index))
        elif not stripped:
            out.append(Line("", cell.index))
        else:
            out.append(Line(text, cell.index, code=True))
    return out


def _string_statement_lines(source: str) -> set[int]:
    """1-based lines of the cell's top-level bare string statements (a module docstring or a
    triple-quoted answer). A cell that does not parse has none: its comments still count."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    found: set[int] = set()
    for node in tree.body:
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return found


@dataclass(frozen=True)
class Located:
    """Where a question's answer is, or why none was found."""

    lines: tuple[str, ...] = ()
    """The answer's lines as written (the anchor line's own answer part first, if any)."""
    how: str = ""
    """``anchor`` (after the question), ``fallback`` (best-matching cell) or empty."""
    cell: int | None = None
    """The cell the question (or, for a fallback, the answer) is in."""
    asked: bool = False
    """Whether the question itself was seen in the submission."""


_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        """
        the and for are any that can you use used this with there what how why does into from
        have has its your our their which when where some other these those been being will
        would could should than then them they also about know
        """,
    )
)
_ANSWER_HEADING = re.compile(
    r"^\s*#+\s*(\*\*|__)?\s*(my\s+)?(answer|response|solution)s?\b", re.IGNORECASE
)
_QUESTION_MARKER = re.compile(r"^\s*(q(uestion)?\s*\d*\s*[:.)]|\d+\s*[.)]\s)", re.IGNORECASE)


def content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more, stop words out, a plural ``s`` dropped:
    what two phrasings of the same question share."""
    words = re.findall(r"[a-z][a-z0-9'-]{2,}", text.lower())
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if w not in _STOPWORDS}


def looks_like_question(text: str) -> bool:
    """A heading, an emphasised line, a line with a ``?``, or one that starts ``Q1.``/``1.``."""
    stripped = text.strip().lstrip(">").strip()
    emphasised = re.match(r"^(\*\*|__|[*_](?=\S))", stripped)  # "**Q**", "*Q*"; not a "* " bullet
    return bool(
        HEADING.match(text) or emphasised or "?" in stripped or _QUESTION_MARKER.match(stripped)
    )


def is_anchor(text: str, question: Question, config: AnswerConfig = DEFAULT_ANSWERS) -> bool:
    """Whether ``text`` is where ``question`` is asked: it repeats most of the prompt (and
    is phrased as a question, or is little else), or holds a ``match`` phrase and looks like
    a question."""
    words = content_words(text)
    prompt = content_words(question.prompt)
    if not words or not prompt:
        return False
    shared = len(words & prompt)
    if shared / len(prompt) >= config.anchor_coverage and (
        looks_like_question(text) or shared / len(words) >= 0.6
    ):
        return True
    return looks_like_question(text) and any(
        compiled(p).search(plain(text)) for p in question.match
    )


def repeats_prompt(text: str, question: Question) -> bool:
    """Whether ``text`` is little but (part of) the prompt: the question asked again, or its
    rest wrapped onto the next line ("to reduce this cost?"). Such lines are not answer."""
    words = content_words(text)
    shared = len(words & content_words(question.prompt))
    return (
        bool(words)
        and shared / len(words) >= 0.75
        and len(text.split()) <= 2 * len(question.prompt.split())
    )


def locate(
    questions: Sequence[Question], lines: Sequence[Line], config: AnswerConfig = DEFAULT_ANSWERS
) -> dict[str, Located]:
    """Each question's answer: after its anchor where there is one (the longest of several),
    else the best-matching prose block not already taken by another answer."""
    anchors = {
        i: [q for q in questions if is_anchor(line.text, q, config)]
        for i, line in enumerate(lines)
        if not line.code
    }
    anchors = {i: qs for i, qs in anchors.items() if qs}
    located: dict[str, Located] = {}
    taken: set[int] = set()
    for question in questions:
        best: tuple[int, Located] | None = None
        start = 0
        for i in sorted(i for i, qs in anchors.items() if question in qs):
            if i < start:  # the question repeated inside its own answer: not a new occurrence
                continue
            end = _region_end(lines, i, question, anchors)
            answer = _answer_lines(lines, i, end, question, config)
            size = sum(len(text.split()) for text in answer)
            if best is None or size >= best[0]:
                best = (size, Located(tuple(answer), "anchor", lines[i].cell, asked=True))
            taken.update(range(i, end))
            start = end
        located[question.id] = best[1] if best else Located()
    for question in questions:
        if not located[question.id].asked:
            located[question.id] = _best_block(question, lines, taken, config)
    return located


def _region_end(
    lines: Sequence[Line], anchor: int, question: Question, anchors: dict[int, list[Question]]
) -> int:
    """Index of the first line after ``anchor`` that ends its answer: code, another
    question's anchor, or a heading at the level of the section the question is in (or
    above) that is not an "Answer" heading."""
    level = lines[anchor].heading or next(
        (lines[i].heading for i in range(anchor - 1, -1, -1) if lines[i].heading), None
    )
    for i in range(anchor + 1, len(lines)):
        line = lines[i]
        if line.code or (i in anchors and question not in anchors[i]):
            return i
        heading = line.heading
        if (
            heading is not None
            and level is not None
            and heading <= level
            and not _ANSWER_HEADING.match(line.text)
        ):
            return i
    return len(lines)


def _answer_lines(
    lines: Sequence[Line], anchor: int, end: int, question: Question, config: AnswerConfig
) -> list[str]:
    """The answer between ``anchor`` and ``end``: the anchor line's own answer part, then
    the lines after it, without the prompt's continuation or the question asked again."""
    out = []
    rest = _after_question(lines[anchor].text)
    if rest and not repeats_prompt(rest, question):
        out.append(rest)
    body = list(range(anchor + 1, end))
    while body and (
        not lines[body[0]].text.strip() or repeats_prompt(lines[body[0]].text, question)
    ):
        body.pop(0)
    asked_again = [
        i
        for i in body
        if is_anchor(lines[i].text, question, config) and repeats_prompt(lines[i].text, question)
    ]
    out += [lines[i].text for i in body if i not in asked_again]
    while out and not out[-1].strip():
        out.pop()
    return out


def _after_question(text: str) -> str:
    """The part of a question line that answers it: after an ``Answer:`` marker, after the
    last ``?``, or after the closing emphasis of a bold question; a heading has none, nor
    has a bare parenthesis like "(paragraph format)"."""
    if HEADING.match(text):
        return ""
    marker = re.search(r"\b(answer|ans)\s*:", text, re.IGNORECASE)
    if marker:
        rest = text[marker.end() :]
    elif "?" in text:
        rest = text[text.rindex("?") + 1 :]
    else:
        bold = re.match(r"^\s*(\*\*|__)(.+?)\1", text)
        rest = text[bold.end() :] if bold else ""
    rest = rest.strip().lstrip("*_:.-) ").strip()
    if len(rest.split()) < 2 or re.fullmatch(r"\(.*\)", rest):
        return ""
    return rest


def _best_block(
    question: Question, lines: Sequence[Line], taken: set[int], config: AnswerConfig
) -> Located:
    """The prose block (see `_prose_blocks`) that earns the most rubric points, when no
    anchor marks the answer; nothing when no block earns ``fallback_min_points``."""
    best: tuple[int, list[str], int] | None = None
    for block in _prose_blocks(lines, taken):
        text = [lines[i].text for i in block]
        found = sentences(capped(text, config.max_answer_chars))
        earned = sum(bool(matching(point.patterns, found)) for point in question.rubric)
        if earned >= config.fallback_min_points and (best is None or earned > best[0]):
            best = (earned, text, lines[block[0]].cell)
    if best is None:
        return Located()
    return Located(tuple(best[1]), "fallback", best[2])


def _prose_blocks(lines: Sequence[Line], taken: set[int]) -> list[list[int]]:
    """Runs of prose lines inside one cell, broken by code and by lines already taken by an
    answer: a Markdown cell is one block, a script's comment blocks are one each."""
    blocks: list[list[int]] = []
    for i, line in enumerate(lines):
        if line.code or i in taken:
            continue
        joins = blocks and blocks[-1][-1] == i - 1 and lines[i - 1].cell == line.cell
        if joins:
            blocks[-1].append(i)
        else:
            blocks.append([i])
    return blocks
