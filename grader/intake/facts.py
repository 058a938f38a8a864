"""Facts about how a notebook was run, read from its execution counts and outputs.

A notebook records which cells ran, in which order, and what they showed. Three facts
matter to a reader of the grade, and each is reported as a `Finding` with criterion
``notebook`` (they describe the submission; they are not errors of the code):

* ``notebook.never-run``: a code cell has no execution count, so it never ran in the
  session the notebook was saved from (``In [ ]``). When no cell has a count at all, one
  finding says so instead of one per cell.
* ``notebook.out-of-order``: the counts do not increase down the notebook, so the cells
  ran in another order than they read, and the outputs may depend on that order.
* ``notebook.stale-output``: a cell shows output that the code as submitted cannot print.
  This is judged conservatively, from printed **labels** only: a line that starts with a
  short ``Label:`` (``Weights:  torch.Size([20, 2, 35, 35])``) is stale when no string
  anywhere in the submission's code (docstrings aside) contains that label. Any ``print``
  of that label, in this cell or in a function it may call, would have to contain it
  literally, so a missing label means the print was deleted after the run. Unlabelled
  lines (bare values, reprs, tables) are never judged: ``print(x)`` can produce them. Nor
  are labels at all when the code can compute one (``f"{name}: {value}"``, ``"%s: %d"``,
  ``"{}: {}".format``: some string has a placeholder or nothing before a colon).
  A cell whose code cannot show anything (no call, no import, no final expression) but
  has output is stale too, unless the output is an error (any statement can raise).

Only formats that keep execution counts (``.ipynb`` and the text export) have facts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from grader.intake.printed import can_print, output_label, parse_quietly, string_fragments
from grader.intake.submission import Cell, Submission
from grader.result import Finding, Severity

# A string that can end a computed label: it starts with the colon, or has a placeholder
# right before one.
_COMPUTED_LABEL = re.compile(r"^\s*:|(%[-+ #0-9.]*[sdifr]|\})\s*:")
# A traceback or an exception's message.
_ERROR = re.compile(r"^\s*(Traceback \(most recent call last\)|\w+(Error|Exception):)")


def notebook_facts(
    sub: Submission,
    first_lines: Mapping[int, int] | None = None,
    names: Mapping[int, tuple[str, ...]] | None = None,
) -> tuple[Finding, ...]:
    """Findings about how ``sub`` was run. ``first_lines`` maps a cell index to its first
    line in the extracted source and ``names`` to what it defines, to anchor findings."""
    if not sub.has_execution_counts:
        return ()
    first_lines = first_lines or {}
    names = names or {}
    code = [c for c in sub.code_cells if c.has_code]

    def finding(rule: str, message: str, cell: Cell | None, severity: Severity) -> Finding:
        line = first_lines.get(cell.index) if cell else None
        symbol = (names.get(cell.index) or (None,))[0] if cell else None
        return Finding(f"notebook.{rule}", "notebook", message, line, severity, symbol)

    findings = []
    counted = [c for c in code if c.execution_count is not None]
    if code and not counted:
        message = (
            f"None of the {len(code)} code cells has an execution count: the notebook was "
            "saved without running (or with its outputs cleared), so no output in it comes "
            "from the code as submitted."
        )
        findings.append(finding("never-run", message, None, "minor"))
    elif counted:
        for cell in code:
            if cell.execution_count is None:
                findings.append(finding("never-run", _never_run(cell, names), cell, "minor"))
        order = _out_of_order(counted)
        if order:
            findings.append(finding("out-of-order", order, None, "info"))
    fragments = _all_fragments(code)
    labels_judged = not any(_COMPUTED_LABEL.search(f) for f in fragments)
    for cell in code:
        stale = _stale_output(cell, fragments if labels_judged else None)
        if stale:
            findings.append(finding("stale-output", stale, cell, "minor"))
    return tuple(findings)


def _never_run(cell: Cell, names: Mapping[int, tuple[str, ...]]) -> str:
    defined = names.get(cell.index, ())
    what = f" (it defines {', '.join(defined)})" if defined else ""
    return (
        f"Cell {cell.index}{what} has no execution count (In [ ]): it never ran in the "
        "session the notebook was saved from, so nothing in the notebook shows that it works."
    )


def _out_of_order(counted: list[Cell]) -> str | None:
    """A message when the counts do not increase down the notebook, with the first case."""
    for earlier, later in itertools.pairwise(counted):
        if (later.execution_count or 0) <= (earlier.execution_count or 0):
            sequence = ", ".join(str(c.execution_count) for c in counted)
            return (
                f"Cells ran out of order: execution counts down the notebook are {sequence}. "
                f"For example cell {later.index} (In [{later.execution_count}]) ran before "
                f"cell {earlier.index} (In [{earlier.execution_count}]) above it, so the "
                "outputs may depend on an order a reader cannot see."
            )
    return None


def _stale_output(cell: Cell, fragments: tuple[str, ...] | None) -> str | None:
    """A message when ``cell`` shows output its code (and the whole submission) cannot
    print; ``fragments`` is the submission's literal text, ``None`` when labels cannot be
    judged."""
    shown = cell.stdout if cell.stdout is not None else cell.outputs
    lines = [line for line in shown.split("\n") if line.strip()]
    tree = parse_quietly(cell.source)
    if not lines or tree is None or any(_ERROR.match(line) for line in lines):
        return None  # an error can come from any statement
    if not can_print(tree):
        return (
            f"Cell {cell.index} shows output, but its code imports nothing, calls nothing and "
            "ends with no expression, so it cannot show anything: the output is from an "
            "earlier version of the cell."
        )
    stale = [
        (line, label)
        for line in lines
        if fragments is not None
        and (label := output_label(line))
        and not any(label in f for f in fragments)
    ]
    if not stale:
        return None
    labels = ", ".join(dict.fromkeys(f'"{label}"' for _, label in stale))
    return (
        f'Cell {cell.index} shows output such as "{stale[0][0].strip()[:80]}" '
        f"({len(stale)} of its {len(lines)} output lines) that no code in the submission "
        f"can print: no string in the code contains {labels}. The prints were removed "
        "after the cell last ran, so its output does not come from the code as submitted."
    )


def _all_fragments(cells: list[Cell]) -> tuple[str, ...]:
    fragments: list[str] = []
    for cell in cells:
        tree = parse_quietly(cell.source)
        if tree is not None:
            fragments.extend(string_fragments(tree))
    return tuple(fragments)
