"""Readability metrics: cyclomatic complexity, docstring and type-hint coverage, per
definition, and the named summary the scorecard shows.

Only definitions the candidate wrote count: for coverage, a definition whose ``def`` or
``class`` line is theirs (a handout skeleton's signature and docstring are not); for
complexity, a function with any line of theirs (they may have filled in a handout's body).

`QualityReport.metrics` is a flat ``str -> number`` dict with these keys, always all of
them when the code parses (none when it does not); `READABILITY_METRICS` gives each a label:

- ``code_lines``: the candidate's code lines (not blank, not comment-only, not a notebook's
  top-level display statement);
- ``ruff_findings`` and ``ruff_per_100_lines``: findings of the curated ruff rules on those
  lines, and per 100 of them;
- ``mean_complexity`` and ``max_complexity``: McCabe complexity over the candidate's
  functions (0 when they wrote none);
- ``docstring_coverage_pct`` and ``type_hint_coverage_pct``: the share, 0..100, of their
  public definitions with a docstring and of their parameters and returns with a type hint
  (100 when there is nothing to cover);
- ``misspelled_identifiers``: distinct misspelled words in the identifiers they defined;
- ``commented_out_code``: blocks of commented-out code on their lines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from grader.config import QualityConfig
from grader.quality.source import DefinitionNode, FunctionNode, Program, own_nodes
from grader.result import Finding

# Statements that each add one path through a function.
_BRANCHES = (ast.If, ast.For, ast.AsyncFor, ast.While)

READABILITY_METRICS: dict[str, str] = {
    "code_lines": "candidate code lines",
    "ruff_findings": "ruff findings",
    "ruff_per_100_lines": "ruff findings per 100 code lines",
    "mean_complexity": "mean cyclomatic complexity",
    "max_complexity": "highest cyclomatic complexity",
    "docstring_coverage_pct": "docstring coverage (%)",
    "type_hint_coverage_pct": "type-hint coverage (%)",
    "misspelled_identifiers": "misspelled identifier words",
    "commented_out_code": "commented-out code blocks",
}
"""Key -> label of every entry of `QualityReport.metrics`, in display order."""


@dataclass(frozen=True)
class Coverage:
    """How many of some items have a property, and which do not."""

    covered: int
    total: int
    missing: tuple[str, ...]
    """Names (``Model.forward``, ``train(lr)``) of the items without it."""

    @property
    def ratio(self) -> float:
        """Share covered; 1.0 when there is nothing to cover."""
        return self.covered / self.total if self.total else 1.0


def complexity(function: FunctionNode) -> int:
    """McCabe's cyclomatic complexity, counted as ruff's C901 (and the ``mccabe`` plugin)
    count it, so the threshold of 10 means what it means there: one, plus one per ``if``,
    ``elif``, loop, ``except`` and ``try``'s ``else``, plus one per ``case`` but a final
    catch-all, plus the complexity of each function defined inside. Boolean operators,
    conditional expressions and comprehensions do not count."""
    return 1 + _decisions(function)


def complexity_findings(
    program: Program, config: QualityConfig
) -> tuple[dict[str, int], list[Finding]]:
    """Complexity of each function the candidate wrote in, and a finding for each above the
    threshold."""
    scores: dict[str, int] = {}
    findings = []
    for function in program.functions():
        if not program.owns(function):
            continue
        name = program.symbol(function) or function.name
        scores[name] = complexity(function)
        if scores[name] > config.max_complexity:
            findings.append(
                Finding(
                    rule="readability.complexity",
                    criterion="readability",
                    message=(
                        f"`{name}` has cyclomatic complexity {scores[name]} (above "
                        f"{config.max_complexity}): that many paths are hard to follow and "
                        "to test; split it into smaller functions."
                    ),
                    line=function.lineno,
                    severity="minor",
                    symbol=name,
                )
            )
    return scores, findings


def docstring_coverage(program: Program) -> Coverage:
    """Public classes, functions and methods the candidate wrote that carry a docstring. A
    class counts as documented by its own docstring or its ``__init__``'s (both styles are
    common); dunder and ``_private`` definitions, what is inside them, and functions nested
    in functions do not count."""
    documented, missing = 0, []
    for node in _public_definitions(program):
        if _has_docstring(node):
            documented += 1
        else:
            missing.append(program.symbol(node) or node.name)
    return Coverage(documented, documented + len(missing), tuple(missing))


def type_hint_coverage(program: Program) -> Coverage:
    """Parameters and returns of the candidate's functions that carry a type annotation.
    ``self``/``cls`` and ``__init__``'s return (always None) are not counted."""
    covered, missing = 0, []
    for function in program.functions():
        if not program.owns_line(function.lineno):
            continue
        name = program.symbol(function) or function.name
        for arg in _annotatable_args(program, function):
            if arg.annotation is not None:
                covered += 1
            else:
                missing.append(f"{name}({arg.arg})")
        if function.name != "__init__":
            if function.returns is not None:
                covered += 1
            else:
                missing.append(f"{name} -> ?")
    return Coverage(covered, covered + len(missing), tuple(missing))


def _decisions(scope: ast.AST) -> int:
    """Decision points in ``scope``'s own body, and in the functions defined inside it."""
    count = 0
    for node in own_nodes(scope):
        if isinstance(node, _BRANCHES):
            count += 1
        elif isinstance(node, ast.Try | ast.TryStar):
            count += len(node.handlers) + bool(node.orelse)
        elif isinstance(node, ast.Match):
            last = node.cases[-1]
            catch_all = isinstance(last.pattern, ast.MatchAs) and last.pattern.pattern is None
            count += len(node.cases) - (catch_all and last.guard is None)
        elif isinstance(node, FunctionNode):
            count += complexity(node)
        elif isinstance(node, ast.ClassDef):
            count += _decisions(node)
    return count


def _public_definitions(program: Program) -> list[DefinitionNode]:
    """Classes, functions and methods a reader of the candidate's API meets first: not
    ``_private`` ones, nor those inside a private class or inside a function."""
    found = []
    for node in program.definitions():
        if not program.owns_line(node.lineno) or node.name.startswith("_"):
            continue
        outer = [a for a in program.ancestors(node) if isinstance(a, DefinitionNode)]
        if not any(isinstance(a, FunctionNode) or a.name.startswith("_") for a in outer):
            found.append(node)
    return found


def _has_docstring(node: DefinitionNode) -> bool:
    """Whether ``node`` (or, for a class, its ``__init__``) has a docstring."""
    if ast.get_docstring(node):
        return True
    if isinstance(node, ast.ClassDef):
        inits = [n for n in node.body if isinstance(n, FunctionNode) and n.name == "__init__"]
        return any(ast.get_docstring(init) for init in inits)
    return False


def _annotatable_args(program: Program, function: FunctionNode) -> list[ast.arg]:
    """Every parameter but a method's ``self`` or ``cls``."""
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    is_method = isinstance(program.parents.get(function), ast.ClassDef)
    is_static = any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.decorator_list
    )
    if is_method and not is_static and (args.posonlyargs or args.args):
        every = every[1:]
    return every
