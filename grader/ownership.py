"""Who wrote each line of a submission: the candidate, the handout (untouched), or the handout
as the candidate changed it.

Every candidate receives the same handout, so a failure in code the candidate never touched is
not theirs, and a handout line they edited is theirs in a way a line they only kept is not.
`grader.intake.provenance` already tells the candidate's lines from the handout's (a line-by-
line diff of each definition against the handout's of the same name). This module refines it
into three owners (`grader.result.Authorship`):

- ``handout``: a line of the handout, untouched;
- ``changed``: a line the candidate wrote in place of a handout line that was code (a diff
  ``replace`` over handout lines that are not stubs);
- ``candidate``: every other line the candidate wrote, including what they wrote in place of a
  stub (``raise NotImplementedError``, a line marked ``TODO``). A stub left as handed out is
  the candidate's too: the work it stands for was theirs to do, so a failure there is never
  "inherited".

It also knows where each function, class and method is (``Class.method``), so a trap's lines
can be looked for in the right place, and maps a worker's traceback (the candidate's frames
only, in the extracted program's line numbers) to the owner of the code that raised.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from grader.intake.load import parse_text
from grader.intake.printed import parse_quietly
from grader.intake.provenance import handout_index, normalise_lines
from grader.intake.statements import DEFINITION_NODES, first_line
from grader.result import Authorship

SUBMISSION_FILE = "submission.py"
"""The file name the worker gives the extracted program (`Sandbox.load`): its frames in a
traceback are the submission's, numbered as `SubmissionResult.source`."""
_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
_STUBS = ("raiseNotImplementedError", "raiseNotImplementedError()", "...")


@dataclass(frozen=True)
class Owners:
    """The owner of every non-blank line of a program, and where its definitions are."""

    lines: dict[int, Authorship]
    """1-based line -> owner; blank lines are nobody's and absent."""
    spans: dict[str, tuple[int, int]]
    """``name`` or ``Class.method`` -> (first, last) line, inclusive."""
    text: dict[int, str]
    """1-based line -> the line normalised (`provenance.normalise_lines`), non-blank only."""

    def of_line(self, line: int | None) -> Authorship | None:
        return self.lines.get(line) if line is not None else None

    def of_lines(self, lines: Iterable[int]) -> Authorship | None:
        """The owner of a group of lines: ``candidate`` if any line is the candidate's own,
        else ``changed`` if any is a changed handout line, else ``handout``; None when empty."""
        seen = {self.lines[n] for n in lines if n in self.lines}
        for owner in ("candidate", "changed", "handout"):
            if owner in seen:
                return owner  # type: ignore[return-value]
        return None

    def of_symbol(self, symbol: str | None) -> Authorship | None:
        """The owner of a whole function, class or method (`of_lines` over its span)."""
        span = self.spans.get(symbol) if symbol else None
        return self.of_lines(range(span[0], span[1] + 1)) if span else None

    def find(self, text: str, symbols: Iterable[str]) -> list[int]:
        """Lines inside ``symbols`` that read ``text`` once normalised, untouched."""
        wanted = "".join(text.split())
        found = []
        for symbol in symbols:
            first, last = self.spans.get(symbol, (0, -1))
            found += [
                n
                for n in range(first, last + 1)
                if self.text.get(n) == wanted and self.lines.get(n) == "handout"
            ]
        return found

    def within(self, line: int, symbols: Iterable[str]) -> bool:
        """Whether ``line`` lies inside one of ``symbols``."""
        spans = [self.spans[s] for s in symbols if s in self.spans]
        return any(first <= line <= last for first, last in spans)

    def of_traceback(self, traceback: str) -> Authorship | None:
        """Who wrote the code a traceback ran through: ``handout`` when every frame of the
        submission is an untouched handout line, else the owner of the innermost frame the
        candidate wrote or changed; None without a frame of the submission."""
        lines = frames(traceback)
        owners = [self.lines.get(n) for n in lines]
        if not lines or None in owners:
            return None
        written = [o for o in owners if o != "handout"]
        return written[-1] if written else "handout"


def frames(traceback: str | None) -> list[int]:
    """The submission's lines in a worker's traceback, outermost first."""
    found = _FRAME.findall(traceback or "")
    return [int(n) for name, n in found if name == SUBMISSION_FILE]


def line_owners(source: str, candidate_lines: Iterable[int], handout_source: str) -> Owners:
    """The owners of ``source`` (the extracted program, `SubmissionResult.source`), from the
    candidate's lines `grader.intake.provenance` found and the handout (``py:percent``)."""
    mine = set(candidate_lines)
    normalised = normalise_lines(source)
    stubs = stub_lines(handout_source)
    lines: dict[int, Authorship] = {}
    text: dict[int, str] = {}
    for n, line in enumerate(normalised, start=1):
        if line:
            text[n] = line
            lines[n] = "candidate" if n in mine or line in stubs else "handout"
    tree = parse_quietly(source)
    spans = definition_spans(tree.body) if tree is not None else {}
    given = handout_index(handout_source).definitions
    for name, (first, last) in spans.items():
        if "." in name or name not in given:
            continue
        numbered = [n for n in range(first, last + 1) if n in text]
        matcher = difflib.SequenceMatcher(
            None, list(given[name]), [text[n] for n in numbered], autojunk=False
        )
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "replace" and any(g not in stubs for g in given[name][i1:i2]):
                for n in numbered[j1:j2]:
                    if lines[n] == "candidate" and text[n] not in stubs:
                        lines[n] = "changed"
    return Owners(lines, spans, text)


def stub_lines(handout_source: str) -> frozenset[str]:
    """The handout's placeholder lines, normalised: ``raise NotImplementedError`` and every
    line marked ``TODO`` (``src_mask = None  # TODO: ...`` is ``src_mask=None``)."""
    stubs = set(_STUBS)
    for cell in parse_text(handout_source, name="handout", suffix=".py").code_cells:
        raw = cell.source.split("\n")
        for line, normal in zip(raw, normalise_lines(cell.source), strict=False):
            if normal and "TODO" in line:
                stubs.add(normal)
    return frozenset(stubs)


def definition_spans(body: list[ast.stmt], prefix: str = "") -> dict[str, tuple[int, int]]:
    """``name`` (and ``Class.method``) -> its lines, for the definitions of a module body; a
    name defined twice keeps its last definition (the one that runs)."""
    spans: dict[str, tuple[int, int]] = {}
    for stmt in body:
        if isinstance(stmt, DEFINITION_NODES):
            name = f"{prefix}{stmt.name}"
            spans[name] = (first_line(stmt), stmt.end_lineno or stmt.lineno)
            if isinstance(stmt, ast.ClassDef) and not prefix:
                spans |= definition_spans(stmt.body, f"{name}.")
    return spans


def handout_symbol_lines(handout_source: str) -> dict[str, frozenset[str]]:
    """``name`` and ``Class.method`` of the handout -> its normalised lines (for checking that
    an assignment's traps name lines the handout has)."""
    out: dict[str, frozenset[str]] = {}
    for cell in parse_text(handout_source, name="handout", suffix=".py").code_cells:
        tree = parse_quietly(cell.source)
        if tree is None:
            continue
        normalised = normalise_lines(cell.source)
        for name, (first, last) in definition_spans(tree.body).items():
            out[name] = frozenset(t for t in normalised[first - 1 : last] if t)
    return out
