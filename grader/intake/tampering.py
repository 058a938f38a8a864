"""Code that reaches into the grader's own worker: the one thing an honest answer never does.

The worker runs the candidate's code next to its own modules (the recorder that watches their
loop, the recipes that time and train it, the protocol that answers the grader). Everything
the grader concludes is computed outside, from values that came back, but a submission that
patches those modules can change which values come back (a forged recording, a cached
timing). Nothing in an interview answer needs them, so reaching for them is reported as
suspected tampering and the grade is withheld for a human to look at.

Read from the submission's text (``ast``), never by running it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

WORKER_MODULES = frozenset(
    {
        "worker",
        "protocol",
        "audit",
        "loader",
        "recorder",
        "roles",
        "recipes",
        "training_recipes",
        "gradient_recipes",
        "positional_recipes",
    }
)
"""The worker's own modules (``grader/sandbox/isolation.py`` ``WORKER_FILES``), by import name."""

FRAME_ATTRIBUTES = frozenset({"f_locals", "f_globals", "f_back", "gi_frame", "tb_frame"})
"""Attributes that walk another function's frame: the grader's request loop is one."""

WORKER_STRINGS = ("reply_fd", "request_fd", "/proc/self/fd", "/proc/1/")
"""Text that only means the worker's pipes or its parent."""


def suspected_tampering(source: str, modules: Sequence[Any] = ()) -> list[str]:
    """One sentence per place the code reaches into the worker, in line order: the main
    program's, then each of the candidate's helper ``modules`` (anything with ``name``,
    ``file`` and ``source``; they run in the worker too). A helper module of the candidate's
    own named like a worker module (``loader.py``) is theirs: the worker loads it in place
    of its own, so importing it reaches nothing of the worker's."""
    own = frozenset(m.name.split(".")[0] for m in modules)
    found = [f"line {line}: {what}" for line, what in _scan(source, own)]
    for module in modules:
        where = getattr(module, "file", module.name)
        found += [f"{where}, line {line}: {what}" for line, what in _scan(module.source, own)]
    return found


def _scan(source: str, own: frozenset[str]) -> list[tuple[int, str]]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lookups = module_lookups(tree)
    found = set()
    for node in ast.walk(tree):
        what = _reaches(node, lookups, WORKER_MODULES - own)
        if what:
            found.add((getattr(node, "lineno", 0), what))
    return sorted(found)


def module_lookups(tree: ast.AST) -> set[int]:
    """``id()`` of the string constants used as module names: ``sys.modules[...]``,
    ``sys.modules.get(...)``, ``importlib.import_module(...)``, ``__import__(...)``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("modules"):
            found.add(id(node.slice))
        elif isinstance(node, ast.Call) and node.args:
            name = ast.unparse(node.func)
            if name.endswith(("import_module", "__import__", "modules.get")):
                found.add(id(node.args[0]))
    return found


def _reaches(node: ast.AST, lookups: set[int], worker: frozenset[str]) -> str | None:
    if isinstance(node, ast.Import):
        names = [a.name.split(".")[0] for a in node.names if a.name.split(".")[0] in worker]
        return f"imports the worker's module {names[0]!r}" if names else None
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        root = node.module.split(".")[0]
        return f"imports from the worker's module {root!r}" if root in worker else None
    if isinstance(node, ast.Attribute) and node.attr in FRAME_ATTRIBUTES:
        return f"reads another frame's {node.attr}"
    if isinstance(node, ast.Attribute) and node.attr == "_getframe":
        return "walks the call stack with sys._getframe"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if id(node) in lookups and node.value.split(".")[0] in worker:
            return f"looks up the worker's module {node.value!r}"
        hit = next((s for s in WORKER_STRINGS if s in node.value), None)
        return f"refers to {hit!r} (the worker's pipes or its parent)" if hit else None
    return None
