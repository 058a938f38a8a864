"""Commented-out code (``readability.commented-out-code``): statements switched off, not deleted.

A reader cannot tell whether a commented-out line is a fallback, a debug aid or a leftover,
so it costs readability. A comment counts as code only when it parses as a statement that
*does* something: an assignment with a value, an import, a ``return``/``raise``/``del``, a
block header (``for``/``if``/``with``/``def``/``class``, checked with a body added), or a
call of ``print`` or of a dotted name (``torch.device(...)``, ``model.train()``). Prose,
shape notes (``# (batch, heads, seq, head_dim)``, ``# shape: (batch, seq)``), pasted output
(``# torch.Size([35, 20])``) and pragmas (``# noqa``, ``# type: ...``, ``# %%``) are not code.

Each comment line is judged on its own (with ``# `` and indentation removed); commented-out
code on consecutive full-line comments is one run and gives one finding, at its first line,
and a comment after code on the same line is a run of its own (``device = "mps"  #
torch.device("cuda" if ...)``). Only comments on the candidate's lines are looked at.
"""

from __future__ import annotations

import ast
import io
import tokenize

from grader.intake.printed import is_value_display
from grader.quality.source import Program, call_name
from grader.result import Finding

# Statements that do something whenever they appear.
_ACTIONS = (
    ast.Assign,
    ast.AugAssign,
    ast.Import,
    ast.ImportFrom,
    ast.Return,
    ast.Raise,
    ast.Delete,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.If,
    ast.With,
    ast.AsyncWith,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Try,
)
_BLOCK_HEADERS = ("for ", "async ", "while ", "if ", "with ", "def ", "class ")


def commented_out_code(program: Program) -> list[Finding]:
    """A finding at the first line of each run of commented-out code on the candidate's
    lines (see the module docstring)."""
    findings = []
    for first, texts in _code_runs(program.source):
        if not program.owns_line(first):
            continue
        span = f"{len(texts)} lines of code are" if len(texts) > 1 else "code is"
        findings.append(
            Finding(
                rule="readability.commented-out-code",
                criterion="readability",
                message=(
                    f"Commented-out {span} left in (`{texts[0][:60]}`): a reader cannot tell "
                    "a fallback from a leftover. Delete it, or make it an option the code "
                    "chooses."
                ),
                line=first,
                severity="minor",
                symbol=program.symbol_at(first),
            )
        )
    return findings


def _code_runs(source: str) -> list[tuple[int, list[str]]]:
    """(first line, texts) of each run of comments that are code: full-line ones on
    consecutive lines form one run; a comment after code on its line is a run of its own."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    lines = source.split("\n")
    runs: list[tuple[int, list[str]]] = []
    last = -1  # the line of the previous full-line comment of code
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        row, col = token.start
        text = token.string[1:].strip()
        if not _does_something(text):
            continue
        trailing = bool(lines[row - 1][:col].strip())
        if not trailing and runs and row == last + 1:
            runs[-1][1].append(text)
        else:
            runs.append((row, [text]))
        last = -1 if trailing else row
    return runs


def _does_something(text: str) -> bool:
    """Whether ``text`` parses (a block header with a body added) as an action."""
    if not text or text.startswith(("%%", "!", "%")):
        return False
    tree = _parse(text)
    if tree is None and text.startswith(_BLOCK_HEADERS):
        tree = _parse(text + "\n    pass")
    if tree is None or is_value_display(tree):
        return False
    return any(_is_action(statement) for statement in tree.body)


def _is_action(statement: ast.stmt) -> bool:
    """An action of the module docstring's list."""
    if isinstance(statement, ast.AnnAssign):
        return statement.value is not None  # `shape: (batch, seq)` is a note
    if isinstance(statement, _ACTIONS):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        name = call_name(statement.value) or ""
        method = isinstance(statement.value.func, ast.Attribute)
        return name == "print" or method
    return False


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None
