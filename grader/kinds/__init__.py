"""Kinds of task: the plug-ins the pipeline strings together (interface in `grader.kinds.base`).

Built-in kinds:

- ``attention``, ``multi_head_attention``, ``encoder_block``, ``causal_mask``
  (`grader.kinds.transformer`) and ``lm_training`` (`grader.kinds.language_model`): the
  transformer language-model test;
- ``positional_encoding``, ``positional_model``, ``positional_training``
  (`grader.kinds.positional`): the positional-encoding test;
- ``function``, ``module``, ``training`` (`grader.kinds.generic`): any function, module or
  model an interviewer's ``reference.py`` defines, configured in the TOML alone.

An assignment folder may bring more: its ``checks`` module (named in ``assignment.toml``) is
imported by the grader when the assignment loads and registers kinds with `register`. It is
the interviewer's code, trusted like the grader's own; the candidate's code still only ever
runs in the sandboxed worker.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from grader.kinds.base import (
    Check,
    Kind,
    KindError,
    NoOptions,
    TaskRun,
    Trained,
    describe_options,
    parse_options,
)

REGISTRY: dict[str, Kind] = {}
"""Every kind known, by name."""
OWNERS: dict[str, str] = {}
"""Kind name -> who registered it (``grader`` or an assignment's check module)."""
BUILTIN_MODULES = (
    "grader.kinds.transformer",
    "grader.kinds.language_model",
    "grader.kinds.positional",
    "grader.kinds.generic",
)
_loaded_plugins: dict[Path, str] = {}


def register(kind_class: type[Kind], owner: str = "grader") -> type[Kind]:
    """Register a kind (usable as a class decorator). A name may be registered once."""
    kind = kind_class()
    if not kind.name:
        raise KindError(f"{kind_class.__name__} has no name")
    if kind.name in REGISTRY and type(REGISTRY[kind.name]) is not kind_class:
        raise KindError(
            f"kind {kind.name!r} is already registered by {OWNERS.get(kind.name, 'grader')}"
        )
    REGISTRY[kind.name] = kind
    OWNERS.setdefault(kind.name, owner)
    return kind_class


def _builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def get(name: str, where: str = "") -> Kind:
    """The kind called ``name``; `KindError` naming the known ones otherwise."""
    _builtins()
    if name not in REGISTRY:
        prefix = f"{where}: " if where else ""
        raise KindError(f"{prefix}unknown kind {name!r}; known kinds: {', '.join(known())}")
    return REGISTRY[name]


def known() -> list[str]:
    """The names of every registered kind, sorted."""
    _builtins()
    return sorted(REGISTRY)


def load_module(path: Path, owner: str) -> None:
    """Import an assignment's check module (once per file); its kinds register themselves.
    Errors in it are the assignment's: reported as `KindError` with the file named."""
    _builtins()
    path = path.resolve()
    if path in _loaded_plugins:
        return
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"grader_plugin_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise KindError(f"{path}: cannot be imported as a check module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    before = set(REGISTRY)
    try:
        spec.loader.exec_module(module)
    except KindError:
        raise
    except Exception as exc:  # noqa: BLE001 - the interviewer's module: report, don't crash
        sys.modules.pop(name, None)
        raise KindError(f"{path}: the check module failed to import: {type(exc).__name__}: {exc}")
    for kind in set(REGISTRY) - before:
        OWNERS[kind] = owner
    _loaded_plugins[path] = name


def top_level_names(path: Path) -> frozenset[str]:
    """The functions, classes and assigned names a Python file defines at top level, read
    without running it (the grader never executes a reference in its own process)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise KindError(f"{path}: syntax error at line {exc.lineno}: {exc.msg}") from None
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return frozenset(names)


__all__ = [
    "Check",
    "Kind",
    "KindError",
    "NoOptions",
    "TaskRun",
    "Trained",
    "describe_options",
    "get",
    "known",
    "load_module",
    "parse_options",
    "register",
    "top_level_names",
]
