"""Which lines of the extracted program the candidate wrote, and which came with the handout.

The readability and optimisation criteria must judge the candidate's code, not ours: a
long given class must not cost the candidate points, nor earn them any. So each kept
definition is compared with the handout's definition of the same name, line by line,
after normalising what a candidate may change without writing anything (whitespace,
comments at the end of a line): lines in the longest matching runs (``difflib``) are the
handout's, the rest are the candidate's. A definition the handout does not have is all the
candidate's. Other kept statements (imports, constants) are the handout's when the same
normalised line appears anywhere in the handout's code.

Blank lines are nobody's. Comment-only lines count, compared as written, since comments
are part of readability.
"""

from __future__ import annotations

import ast
import difflib
import functools
import io
import tokenize
from dataclasses import dataclass

from grader.intake.load import parse_text
from grader.intake.printed import parse_quietly
from grader.intake.statements import DEFINITION_NODES, first_line


@dataclass(frozen=True)
class HandoutIndex:
    """The handout's code, normalised for comparison."""

    definitions: dict[str, tuple[str, ...]]
    """Top-level function or class name -> its normalised non-blank lines."""
    kinds: dict[str, str]
    """Top-level name -> ``function`` or ``class``."""
    lines: frozenset[str]
    """Every normalised line of the handout's code, comments included."""


@dataclass(frozen=True)
class Span:
    """A kept statement's place in the extracted source."""

    start: int
    end: int
    """1-based first and last line, inclusive (attached comments included)."""
    definition: str | None = None
    """Name of the function or class it defines; ``None`` for other statements."""


@functools.lru_cache(maxsize=8)
def handout_index(handout_source: str) -> HandoutIndex:
    """Index the handout (a ``py:percent`` text); empty when there is no handout."""
    definitions: dict[str, tuple[str, ...]] = {}
    kinds: dict[str, str] = {}
    lines: set[str] = set()
    for cell in parse_text(handout_source, name="handout", suffix=".py").code_cells:
        tree = parse_quietly(cell.source)
        if tree is None:
            continue
        normalised = normalise_lines(cell.source)
        lines.update(t for t in normalised if t)
        for stmt in tree.body:
            if isinstance(stmt, DEFINITION_NODES):
                text = normalised[first_line(stmt) - 1 : stmt.end_lineno]
                definitions[stmt.name] = tuple(t for t in text if t)
                kinds[stmt.name] = "class" if isinstance(stmt, ast.ClassDef) else "function"
    return HandoutIndex(definitions, kinds, frozenset(lines))


def candidate_lines(source: str, spans: list[Span], handout: HandoutIndex) -> frozenset[int]:
    """1-based lines of ``source`` that the candidate wrote (see the module docstring)."""
    normalised = normalise_lines(source)
    mine: set[int] = set()
    for span in spans:
        numbered = [(n, normalised[n - 1]) for n in range(span.start, span.end + 1)]
        numbered = [(n, text) for n, text in numbered if text]
        given = handout.definitions.get(span.definition) if span.definition else None
        if given is not None:
            mine.update(_unmatched(given, numbered))
        elif span.definition is not None:
            mine.update(n for n, _ in numbered)
        else:
            mine.update(n for n, text in numbered if text not in handout.lines)
    return frozenset(mine)


def normalise_lines(source: str) -> list[str]:
    """Each line of ``source`` without whitespace and without a comment that follows code;
    ``""`` for blank lines. Comment positions come from the tokenizer, so a ``#`` inside a
    string is left alone."""
    raw = source.split("\n")
    cut: dict[int, int] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                row, col = token.start
                if raw[row - 1][:col].strip():
                    cut[row] = col
    except (tokenize.TokenError, SyntaxError):
        pass  # keep comments: a worse match, never a wrong line number
    return ["".join(line[: cut.get(n)].split()) for n, line in enumerate(raw, start=1)]


def _unmatched(given: tuple[str, ...], numbered: list[tuple[int, str]]) -> list[int]:
    """Line numbers of ``numbered`` outside the longest runs it shares with ``given``."""
    texts = [text for _, text in numbered]
    matcher = difflib.SequenceMatcher(None, list(given), texts, autojunk=False)
    matched = {b.b + k for b in matcher.get_matching_blocks() for k in range(b.size)}
    return [n for k, (n, _) in enumerate(numbered) if k not in matched]
