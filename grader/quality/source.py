"""The candidate's program as every quality rule sees it: parsed once, with the lines they wrote.

Rules look at the whole program (a function's meaning depends on what the notebook defined
around it) but report only on the candidate's own lines: code that matches the handout is not
theirs to answer for. `Program.owns` is that test; everything else here is small AST plumbing
the rules share.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field

from grader.result import Finding, Severity

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
DefinitionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
# Tokens that carry no code: a line made only of these is blank or a comment.
_NON_CODE_TOKENS = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
    tokenize.ENCODING,
}
_DISPLAY_CALLS = {"print", "display", "pprint", "pprint.pprint"}
_TRIANGLES = ("tril", "triu")


@dataclass(frozen=True)
class Program:
    """A parsed program, the candidate's lines in it, and who contains whom."""

    source: str
    tree: ast.Module
    candidate_lines: frozenset[int]
    """1-based lines the candidate wrote (every line when the caller did not say)."""
    parents: dict[ast.AST, ast.AST] = field(repr=False)
    """Each node's parent, so a rule can ask which loop or function a node sits in."""

    @classmethod
    def parse(cls, source: str, candidate_lines: frozenset[int] | None = None) -> Program:
        """Parse ``source``; raises `SyntaxError` when it is not Python."""
        tree = ast.parse(source)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        if candidate_lines is None:
            candidate_lines = frozenset(range(1, source.count("\n") + 2))
        return cls(source, tree, frozenset(candidate_lines), parents)

    def owns(self, node: ast.AST) -> bool:
        """Whether the candidate wrote any line of ``node``."""
        first = node.lineno  # type: ignore[attr-defined]
        last = getattr(node, "end_lineno", None) or first
        return any(line in self.candidate_lines for line in range(first, last + 1))

    def owns_line(self, line: int) -> bool:
        """Whether the candidate wrote ``line``."""
        return line in self.candidate_lines

    def code_lines(self) -> int:
        """How many of the candidate's lines hold code: not blank, not only a comment, and
        not a notebook's display statement (`display_lines`)."""
        tokens = tokenize.generate_tokens(io.StringIO(self.source).readline)
        lines: set[int] = set()
        for token in tokens:
            if token.type not in _NON_CODE_TOKENS:
                lines.update(range(token.start[0], token.end[0] + 1))
        return len((lines & self.candidate_lines) - self.display_lines())

    def display_lines(self) -> frozenset[int]:
        """Lines of top-level display statements (`is_display`): how a notebook shows a
        value, not code to judge. Inside a function a ``print`` is the function's logging."""
        lines: set[int] = set()
        for statement in self.tree.body:
            if is_display(statement):
                lines.update(range(statement.lineno, (statement.end_lineno or 0) + 1))
        return frozenset(lines)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        """The nodes containing ``node``, innermost first."""
        while node in self.parents:
            node = self.parents[node]
            yield node

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        """The innermost function ``node`` is in, if any."""
        return next((a for a in self.ancestors(node) if isinstance(a, FunctionNode)), None)

    def symbol(self, node: ast.AST) -> str | None:
        """Dotted name of the definitions around ``node`` (``Model.forward``), or None at
        module level. A definition's own name is included."""
        names = [a.name for a in self.ancestors(node) if isinstance(a, DefinitionNode)]
        if isinstance(node, DefinitionNode):
            names.insert(0, node.name)
        return ".".join(reversed(names)) or None

    def symbol_at(self, line: int) -> str | None:
        """Dotted name of the innermost definition spanning ``line``, or None."""
        spanning = [d for d in self.definitions() if d.lineno <= line <= (d.end_lineno or 0)]
        return self.symbol(spanning[-1]) if spanning else None

    def definitions(self) -> Iterator[DefinitionNode]:
        """Every function and class, outermost first, in source order."""
        for node in ast.walk(self.tree):
            if isinstance(node, DefinitionNode):
                yield node

    def functions(self) -> Iterator[FunctionNode]:
        """Every function and method."""
        return (d for d in self.definitions() if isinstance(d, FunctionNode))


def dotted_name(node: ast.AST) -> str | None:
    """``torch.nn.Linear`` for the expression ``torch.nn.Linear``; None for anything that is
    not a chain of names (a call, a subscript)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def call_name(node: ast.AST) -> str | None:
    """The dotted name a call calls (``torch.tril`` for ``torch.tril(x)``), else None."""
    return dotted_name(node.func) if isinstance(node, ast.Call) else None


def method_name(node: ast.AST) -> str | None:
    """The method a call calls on any receiver (``to`` for ``f(x).to(device)``), else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def is_triangle(node: ast.AST) -> bool:
    """A ``torch.tril``/``torch.triu`` call or ``.tril()``/``.triu()`` method call: how a
    causal mask is built."""
    return method_name(node) in _TRIANGLES or call_name(node) in ("torch.tril", "torch.triu")


def is_display(statement: ast.stmt) -> bool:
    """A notebook's display line: a bare expression that does nothing but show a value
    (``x.shape``, ``output``; not a call, ``await`` or ``yield``), or a ``print``/``display``
    call."""
    if not isinstance(statement, ast.Expr):
        return False
    value = statement.value
    if isinstance(value, ast.Call):
        return call_name(value) in _DISPLAY_CALLS
    return not isinstance(value, ast.Await | ast.Yield | ast.YieldFrom)


def own_nodes(scope: ast.AST) -> list[ast.AST]:
    """Nodes of ``scope``'s body (a function, class or module), not descending into the
    functions and classes defined inside it: those are scopes of their own."""
    found: list[ast.AST] = []
    stack = list(getattr(scope, "body", []))
    while stack:
        node = stack.pop()
        found.append(node)
        if not isinstance(node, DefinitionNode):
            stack.extend(ast.iter_child_nodes(node))
    return found


def statement_bodies(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    """Every list of statements in ``tree``: module, function and loop bodies, branches,
    handlers and cases (`ast.walk` reaches those nodes too, and each has a ``body``)."""
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                yield body


def finding_at(
    program: Program, node: ast.AST, criterion: str, rule: str, message: str, severity: Severity
) -> Finding:
    """A finding of ``criterion`` anchored at ``node``'s line and enclosing symbol."""
    return Finding(
        rule=rule,
        criterion=criterion,
        message=message,
        line=node.lineno,  # type: ignore[attr-defined]
        severity=severity,
        symbol=program.symbol(node),
    )
