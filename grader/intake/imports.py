"""What the candidate's imports mean for grading: names brought in from their own helper
modules, and packages the grader's environment does not have.

* **Helper definitions.** ``from helpers import attention`` in the main file binds a name that
  the main file does not define but the candidate wrote: resolution (`grader.intake.resolve`)
  must find it like a ``def`` in the main file, so the imported name takes the kind (and the
  placeholder flag) of its definition in the helper module. ``import helpers`` followed by
  ``helpers.attention`` keeps the name inside the module: the grader grades the main file's
  names, so such a task resolves only through a ``from`` import (or is missing).
* **Missing packages.** An import of a package that is neither installed where the worker
  runs nor one of the candidate's modules does not stop the load any more (the worker binds
  a placeholder that raises ``ModuleNotFoundError`` when used, see
  ``grader/sandbox/loader.py``): only what uses the package fails. Intake says so in the
  report, before anything runs: which package, what needs it, and how the interviewer adds
  it (``extra_packages`` in the assignment, installed into the grader's environment).
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace

from grader.intake.definitions import Definition
from grader.intake.printed import parse_quietly
from grader.intake.statements import DEFINITION_NODES
from grader.intake.submission import HelperModule

DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "bs4": "beautifulsoup4",
    "pytorch_lightning": "pytorch-lightning",
    "attr": "attrs",
}
"""Import names whose package is installed under another name (what to ``pip install``)."""


def with_helper_definitions(
    definitions: dict[str, Definition],
    statements: Iterable[ast.stmt],
    modules: Sequence[HelperModule],
) -> dict[str, Definition]:
    """``definitions`` where each name imported with ``from <helper> import name`` takes the
    kind and placeholder flag of the helper's function or class of that name."""
    by_name = {m.name: m for m in modules}
    if not by_name:
        return definitions
    out = dict(definitions)
    for stmt in statements:
        if not isinstance(stmt, ast.ImportFrom) or stmt.level or stmt.module not in by_name:
            continue
        helper = by_name[stmt.module]
        for alias in stmt.names:
            bound = alias.asname or alias.name
            if bound in out and alias.name in helper.definitions:
                kind, stub = helper.definitions[alias.name]
                out[bound] = replace(out[bound], kind=kind, stub=stub)  # type: ignore[arg-type]
    return out


def missing_packages(source: str, modules: Sequence[HelperModule] = ()) -> tuple[str, ...]:
    """One sentence per package the program imports that the worker cannot: its name, what
    needs it, and how to provide it."""
    local = {m.name.split(".")[0] for m in modules}
    programs = [("", source)] + [(m.file, m.source) for m in modules]
    missing: dict[str, list[str]] = {}
    for where, text in programs:
        tree = parse_quietly(text)
        if tree is None:
            continue
        for top in _imported_tops(tree):
            if top in local or top in sys.stdlib_module_names or top == "__future__":
                continue
            if top in sys.builtin_module_names or installed(top):
                continue
            places = missing.setdefault(top, [])
            if where and where not in places:
                places.append(where)
    main_tree = parse_quietly(source)
    return tuple(
        advice(package, places, _uses(main_tree, package) if main_tree else ([], []))
        for package, places in missing.items()
    )


def advice(package: str, places: list[str], uses: tuple[list[str], list[str]]) -> str:
    """The report's sentence about one missing package."""
    left_out, fail = uses
    where = f" (in {', '.join(places)})" if places else ""
    effects = []
    if left_out:
        effects.append(f"{_names(left_out)} need it while being defined and are left out")
    if fail:
        effects.append(f"{_names(fail)} use it and fail when called")
    effect = "; ".join(effects) if effects else "what uses it fails when it runs"
    pip = DISTRIBUTIONS.get(package, package)
    return (
        f"The code imports `{package}`{where}, which the grader's environment does not provide: "
        f'{effect}; the rest is graded. To grade it all, add "{pip}" to `extra_packages` in '
        f"the assignment's assignment.toml and install it into the grader's environment "
        f"(`uv pip install --python .venv/bin/python {pip}`)."
    )


def installed(top: str) -> bool:
    """Whether the worker can import the top-level module ``top`` from the environment:
    looked up on the interpreter's and the environment's own paths only (the worker sees
    nothing else; the project's folder is not mounted there)."""
    prefixes = tuple({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
    paths = [p for p in sys.path if p and os.path.realpath(p).startswith(prefixes)]
    try:
        return importlib.machinery.PathFinder.find_spec(top, paths) is not None
    except (ImportError, ValueError):
        return False


def _imported_tops(tree: ast.AST) -> list[str]:
    tops: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            tops.append(node.module.split(".")[0])
    return list(dict.fromkeys(tops))


def _uses(tree: ast.Module, package: str) -> tuple[list[str], list[str]]:
    """(definitions that need ``package`` while being defined, definitions whose bodies
    use it), by the names its top-level imports bind."""
    bound: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.name.split(".")[0] == package:
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
            bound |= {
                alias.asname or alias.name
                for alias in stmt.names
                if stmt.module.split(".")[0] == package
            }
    left_out, fail = [], []
    for stmt in tree.body:
        if not isinstance(stmt, DEFINITION_NODES):
            continue
        if _needed_when_defined(stmt) & bound:
            left_out.append(stmt.name)
        elif _reads(stmt, bound) or _imports_inside(stmt, package):
            fail.append(stmt.name)
    return left_out, fail


def _needed_when_defined(stmt: ast.stmt) -> set[str]:
    """Names a definition calls or subclasses while being defined (decorators, default
    values, bases, a class body's statements): using a placeholder there fails. Annotations
    only look attributes up, which a placeholder allows, so they do not count."""
    parts: list[ast.AST] = []
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts += [*stmt.decorator_list, *stmt.args.defaults]
        parts += [d for d in stmt.args.kw_defaults if d is not None]
    elif isinstance(stmt, ast.ClassDef):
        parts += [*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)]
        for inner in stmt.body:
            if isinstance(inner, DEFINITION_NODES):
                return_names = _needed_when_defined(inner)
                parts += [ast.Name(id=n, ctx=ast.Load()) for n in return_names]
            elif not isinstance(inner, ast.AnnAssign):
                parts.append(inner)
    return {n.id for part in parts for n in ast.walk(part) if isinstance(n, ast.Name)}


def _reads(stmt: ast.stmt, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(stmt))


def _imports_inside(stmt: ast.stmt, package: str) -> bool:
    return package in _imported_tops(stmt)


def _names(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:6])
    return shown + (f" and {len(names) - 6} more" if len(names) > 6 else "")
