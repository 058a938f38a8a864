"""What intake knows about each name the extracted program binds at top level.

For functions and classes this is what resolution needs: the kind, where it sits, whether
it is still the handout's placeholder (a task not attempted), and which module-level names
its body reads that the program never binds (they belonged to skipped top-level work, so
calling it in the worker will raise ``NameError``).
"""

from __future__ import annotations

import ast
import re
import symtable
from dataclasses import dataclass
from typing import Literal

from grader.intake.statements import BUILTIN_NAMES, DEFINITION_NODES

DefinitionKind = Literal["function", "class", "constant", "import"]


@dataclass(frozen=True)
class Definition:
    """A name the extracted program binds at top level."""

    name: str
    kind: DefinitionKind
    start: int
    end: int
    """1-based lines in the extracted source, inclusive."""
    cell: int
    cell_line: int
    """1-based line of the statement in its cell."""
    stub: bool = False
    """Still the handout's placeholder: the body (or, for a class, ``forward`` or every
    method but ``__init__``) is only ``pass``, ``...``, a docstring or
    ``raise NotImplementedError``."""
    missing_globals: tuple[str, ...] = ()
    """Module-level names it reads that the extracted program does not define (defined by
    skipped work, e.g. ``vocab``): calling it in the worker will fail on them."""


def kind_of(stmt: ast.stmt) -> DefinitionKind:
    """What a kept statement binds; a lambda assigned to a name is a function."""
    if isinstance(stmt, ast.ClassDef):
        return "class"
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "function"
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return "import"
    if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda):
        return "function"
    return "constant"


def is_stub(stmt: ast.stmt) -> bool:
    """Whether a definition is still a placeholder (see `Definition.stub`)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        body = stmt.body[1:] if _has_docstring(stmt.body) else stmt.body
        return all(_placeholder(s) for s in body)
    if isinstance(stmt, ast.ClassDef):
        methods = {s.name: s for s in stmt.body if isinstance(s, DEFINITION_NODES)}
        if "forward" in methods and is_stub(methods["forward"]):
            return True
        others = [m for name, m in methods.items() if name != "__init__"]
        return bool(others) and all(is_stub(m) for m in others)
    return False


def missing_globals(source: str, bound: set[str]) -> dict[str, tuple[str, ...]]:
    """Top-level function or class -> module-level names its body reads (from the
    compiler's symbol tables) that are not in ``bound``, the names the program binds.
    Empty when ``source`` has a star import, whose names cannot be known."""
    if not source or re.search(r"^\s*from\s+\S+\s+import\s+\*", source, re.MULTILINE):
        return {}
    try:
        table = symtable.symtable(source, "<extracted>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    bound = bound | BUILTIN_NAMES | {"__name__", "__file__", "__doc__"}
    missing = {}
    for child in table.get_children():
        names = sorted(_globals_read(child) - bound)
        if names:
            missing[child.get_name()] = tuple(names)
    return missing


def _globals_read(table: symtable.SymbolTable) -> set[str]:
    names = {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    for child in table.get_children():
        names |= _globals_read(child)
    return names


def _has_docstring(body: list[ast.stmt]) -> bool:
    first = body[0] if body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


def _placeholder(stmt: ast.stmt) -> bool:
    """``pass``, ``...``, a bare string (a TODO note) or ``raise NotImplementedError``."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return stmt.value.value is Ellipsis or isinstance(stmt.value.value, str)
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False
