"""Where a submission builds causal masks inline: every ``tril``/``triu`` call.

Many candidates never write a mask function: they call ``torch.tril(torch.ones(n, n))``
inside ``train()`` or in a cell. Resolution needs to know where, so that the causal-mask
task is "built inline in train()" rather than missing; the check suite then observes the
masks that reach the model at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from grader.intake.statements import DEFINITION_NODES

MASK_CALLS = ("tril", "triu", "generate_square_subsequent_mask")


@dataclass(frozen=True)
class MaskSite:
    """A ``tril``/``triu`` call: a causal mask being built."""

    cell: int
    line: int
    """1-based line in the cell."""
    function: str | None
    """Enclosing top-level function or ``Class.method``; ``None`` at top level."""
    extracted_line: int | None
    """Its line in the extracted source, when the statement was kept."""
    text: str
    """The call, as source."""


def mask_sites(trees: dict[int, ast.Module], located: dict[tuple[int, int], int]) -> list[MaskSite]:
    """Mask-building calls in the parsed cells (cell index -> tree), kept or not;
    ``located`` maps (cell, line in cell) to the extracted line."""
    sites = []
    for cell, tree in trees.items():
        for owner, call in _calls_with_owner(tree):
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in MASK_CALLS:
                extracted_line = located.get((cell, call.lineno))
                text = ast.unparse(call)[:120]
                sites.append(MaskSite(cell, call.lineno, owner, extracted_line, text))
    return sites


def _calls_with_owner(tree: ast.Module) -> Iterator[tuple[str | None, ast.Call]]:
    """Every call in ``tree`` with the function (or ``Class.method``) it is in."""
    for stmt in tree.body:
        parts = stmt.body if isinstance(stmt, ast.ClassDef) else [stmt]
        for part in parts:
            if isinstance(stmt, ast.ClassDef):
                inner = part.name if isinstance(part, DEFINITION_NODES) else None
                owner: str | None = f"{stmt.name}.{inner}" if inner else stmt.name
            else:
                owner = stmt.name if isinstance(stmt, DEFINITION_NODES) else None
            for node in ast.walk(part):
                if isinstance(node, ast.Call):
                    yield owner, node
