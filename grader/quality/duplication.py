"""Copy-pasted blocks: the same run of statements written out twice (``reuse.duplicated-block``).

Two runs of consecutive statements are the same when their syntax trees match with variable
names ignored (a copy with ``val_data`` renamed to ``test_data`` is still a copy) but with
attribute names, calls and constants kept (``self.linear_key(key)`` and
``self.linear_value(value)`` are different lines). A run must span
``config.min_duplicate_lines`` lines and ``config.min_duplicate_statements`` statements
(nested ones included), so three projections side by side, each written once, are not a
finding. By default both copies must be inside functions (see
`QualityConfig.duplicates_at_module_level`). Each later copy is reported once, at its first
line, pointing at the first copy; runs inside a reported copy are not reported again.
"""

from __future__ import annotations

import ast
import copy
from collections import defaultdict
from dataclasses import dataclass

from grader.config import QualityConfig
from grader.quality.source import Program, is_display, statement_bodies
from grader.result import Finding

_MAX_RUN = 30
"""Longest run compared, in statements; longer copies are found as several runs."""


@dataclass(frozen=True)
class _Run:
    """Consecutive statements of one body."""

    first: int
    """First line."""
    last: int
    """Last line."""
    statements: int
    """Statements in the run, nested ones included."""
    head: ast.stmt
    """Its first statement."""

    def within(self, other: _Run) -> bool:
        """Whether every line of this run is in ``other``."""
        return other.first <= self.first and self.last <= other.last

    def overlaps(self, other: _Run) -> bool:
        """Whether the two runs share a line."""
        return self.first <= other.last and other.first <= self.last


def duplicated_blocks(program: Program, config: QualityConfig) -> list[Finding]:
    """A finding for each later copy of a repeated run of statements on the candidate's
    lines."""
    copies: dict[tuple[str, ...], list[_Run]] = defaultdict(list)
    for body in statement_bodies(program.tree):
        shapes = [_shape(statement) for statement in body]
        sizes = [sum(isinstance(n, ast.stmt) for n in ast.walk(s)) for s in body]
        for start in range(len(body)):
            statements = 0
            for stop in range(start + 1, min(len(body), start + _MAX_RUN) + 1):
                statements += sizes[stop - 1]
                last = body[stop - 1].end_lineno or body[stop - 1].lineno
                run = _Run(body[start].lineno, last, statements, body[start])
                big = last - run.first + 1 >= config.min_duplicate_lines
                enough = big and statements >= config.min_duplicate_statements
                if enough and not all(is_display(s) for s in body[start:stop]):
                    copies[tuple(shapes[start:stop])].append(run)
    reported: list[_Run] = []
    findings = []
    # Longest runs first, so a copy is reported whole and its parts are then skipped.
    for runs in sorted(copies.values(), key=lambda rs: (-rs[0].statements, rs[0].first)):
        runs = sorted(runs, key=lambda r: r.first)
        original = runs[0]
        for later in runs[1:]:
            if later.overlaps(original) or any(later.within(r) for r in reported):
                continue
            if not program.owns(later.head):
                continue
            in_functions = all(program.enclosing_function(r.head) for r in (original, later))
            if not (in_functions or config.duplicates_at_module_level):
                continue
            reported += [original, later]
            findings.append(
                Finding(
                    rule="reuse.duplicated-block",
                    criterion="reusability",
                    message=(
                        f"Lines {later.first}-{later.last} repeat lines {original.first}-"
                        f"{original.last}: move them into one function (or a loop) so a fix "
                        "is made once."
                    ),
                    line=later.first,
                    severity="minor",
                    symbol=program.symbol(later.head),
                )
            )
    return sorted(findings, key=lambda f: f.line or 0)


def _shape(statement: ast.stmt) -> str:
    """The statement's syntax tree with variable and parameter names blanked out."""
    tree = copy.deepcopy(statement)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            node.id = "_"
        elif isinstance(node, ast.arg):
            node.arg = "_"
    return ast.dump(tree, include_attributes=False)
