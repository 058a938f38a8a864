"""The candidate's code split into highlighted lines, ready to be anchored and annotated.

Pygments lexes the whole source at once (a docstring spans lines, so lexing line by line
would colour it wrongly); the tokens are then cut at newlines so every line becomes its own
table row with an id ``L<n>``, a marker for the findings on it, and a flag saying whether
the candidate wrote it or it came from the handout. The pieces are plain (class, text)
pairs: the template writes them, so the text is escaped like every other candidate string.
"""

from __future__ import annotations

from dataclasses import dataclass

from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES, _TokenType

STYLE = "default"
"""Pygments style of the embedded style sheet: dark-on-light, legible when printed."""


@dataclass(frozen=True)
class CodeLine:
    """One line of the candidate's source."""

    number: int
    """1-based, as findings count lines."""
    pieces: tuple[tuple[str, str], ...]
    """(css class, text) pairs; the class is Pygments' short token class (``k``, ``nf``...)."""
    candidate: bool
    """False when the line came from the handout (greyed on the scorecard)."""
    findings: tuple[int, ...] = ()
    """1-based numbers of the findings anchored to this line (their ids are ``F<n>``)."""


def style_sheet(scope: str = ".code") -> str:
    """Pygments' token colours, scoped to the code block so they touch nothing else."""
    return "\n".join(HtmlFormatter(style=STYLE).get_token_style_defs(scope))


def source_lines(source: str) -> list[str]:
    """The source's lines as Python's tokenizer, and so every line number a finding carries,
    counts them: ``\\r\\n`` and a lone ``\\r`` end a line, a final newline opens none."""
    text = _normalise_newlines(source)
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []


def _normalise_newlines(source: str) -> str:
    return source.replace("\r\n", "\n").replace("\r", "\n")


def highlight_lines(
    source: str,
    candidate_lines: tuple[int, ...] = (),
    findings_by_line: dict[int, tuple[int, ...]] | None = None,
    line_chars: int | None = None,
) -> list[CodeLine]:
    """Highlight ``source`` and return one `CodeLine` per line.

    ``candidate_lines`` empty means the grader could not tell handout from candidate, so no
    line is greyed. ``findings_by_line`` maps a line to the numbers of its findings. A line
    longer than ``line_chars`` is cut there, with a note of how much is not shown.
    """
    count = len(source_lines(source))
    if not count:
        return []
    text = _normalise_newlines(source)
    findings_by_line = findings_by_line or {}
    written = set(candidate_lines)
    # stripnl=False keeps leading blank lines, or every line number after them would shift.
    lexer = PythonLexer(stripnl=False, ensurenl=True)
    rows: list[list[tuple[str, str]]] = [[]]
    for token, value in lexer.get_tokens(text):
        css = _css_class(token)
        first, *rest = value.split("\n")
        if first:
            rows[-1].append((css, first))
        for part in rest:
            rows.append([(css, part)] if part else [])
    # ensurenl added a final newline when missing; it opened one empty row past the end.
    return [
        CodeLine(
            number=n,
            pieces=_cut(row, line_chars),
            candidate=not written or n in written,
            findings=findings_by_line.get(n, ()),
        )
        for n, row in enumerate(rows[:count], start=1)
    ]


def _cut(row: list[tuple[str, str]], limit: int | None) -> tuple[tuple[str, str], ...]:
    """A line's pieces up to ``limit`` characters, then a note of the characters cut."""
    length = sum(len(text) for _, text in row)
    if limit is None or length <= limit:
        return tuple(row)
    kept: list[tuple[str, str]] = []
    room = limit
    for css, text in row:
        if room <= 0:
            break
        kept.append((css, text[:room]))
        room -= len(text[:room])
    return (*kept, ("c", f"  ... ({length - limit:,} more characters on this line)"))


def _css_class(token: _TokenType) -> str:
    """Pygments' short class for a token type: the nearest ancestor with a standard name."""
    while token not in STANDARD_TYPES:
        token = token.parent
    return STANDARD_TYPES[token]
