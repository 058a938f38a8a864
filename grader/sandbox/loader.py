"""Load source text as modules inside the worker, and describe what they define.

Runs inside the worker; imports nothing from ``grader``. The sources arrive as strings over
the protocol, so the worker never needs to see the project's files: a submission is one
module (``submission``), the trusted reference is a package (``reference.attention``, ...)
whose modules import each other as usual through a finder that serves the strings.

A module whose top level raises stays loaded as far as it got: a notebook that fails in its
last cell still has the functions its earlier cells defined, and those can be graded.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import linecache
import sys
import types
from dataclasses import dataclass
from typing import Any

MAX_SYMBOLS = 500
"""Symbols described in a load reply; a namespace with more is cut (the rest stay callable)."""


class SourceFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves modules from a ``{dotted name: source}`` dict; parents of dotted names are
    packages (empty unless their own source is given)."""

    def __init__(self, sources: dict[str, str], filenames: dict[str, str]) -> None:
        self.sources = sources
        self.filenames = filenames

    def is_package(self, fullname: str) -> bool:
        return any(name.startswith(fullname + ".") for name in self.sources)

    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.sources and not self.is_package(fullname):
            return None
        spec = importlib.util.spec_from_loader(
            fullname, self, origin=self.filenames[fullname], is_package=self.is_package(fullname)
        )
        if spec is not None:
            spec.has_location = True  # so __file__ is the filename tracebacks show
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        source = self.sources.get(module.__name__, "")
        code = compile(source, self.filenames[module.__name__], "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 - running this source is the worker's job


@dataclass
class LoadOutcome:
    """What a load produced: the main module (possibly partial), the first error, and the
    filename of every module (tracebacks are trimmed to frames in these files)."""

    main: types.ModuleType
    error: BaseException | None
    filenames: frozenset[str]


def plan_filenames(sources: dict[str, str], main: str, main_filename: str | None) -> dict[str, str]:
    """Filename of every module and package: ``reference/attention.py``; the main module may
    be given its own (``submission.py``), which is what its tracebacks show."""
    names = set(sources)
    for name in sources:
        parts = name.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts)))
    filenames = {}
    for name in names:
        is_package = any(other.startswith(name + ".") for other in names)
        stem = name.replace(".", "/")
        filenames[name] = f"{stem}/__init__.py" if is_package else f"{stem}.py"
    if main_filename:
        filenames[main] = main_filename
    return filenames


def load_modules(
    sources: dict[str, str], main: str, main_filename: str | None = None
) -> LoadOutcome:
    """Import every module of ``sources`` (in order, ``main`` last) and return ``main``.

    Raises ValueError for a request that cannot be honoured (a name already taken by an
    installed module, a main that is not among the sources); an exception raised by the
    modules' own code is returned in the outcome, not raised.
    """
    if main not in sources:
        raise ValueError(f"main module {main!r} is not among the sources")
    for name in sources:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"{name!r} is not a module name")
        if name.split(".")[0] in sys.modules:
            raise ValueError(f"module name {name!r} is taken by an installed module")
    finder = SourceFinder(sources, plan_filenames(sources, main, main_filename))
    sys.meta_path.insert(0, finder)
    for name, filename in finder.filenames.items():
        # Tracebacks read source lines through linecache; mtime None keeps them there.
        text = sources.get(name, "")
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    filenames = frozenset(finder.filenames.values())
    try:
        for name in sources:
            if name != main:
                importlib.import_module(name)
        return LoadOutcome(_import_keeping_partial(finder, main), None, filenames)
    except BaseException as exc:  # noqa: BLE001 - candidate code may raise anything, SystemExit too
        module = sys.modules.get(main) or types.ModuleType(main)
        return LoadOutcome(module, exc, filenames)


def _import_keeping_partial(finder: SourceFinder, name: str) -> types.ModuleType:
    """Import ``name`` like ``import`` does, but leave the module in ``sys.modules`` when its
    code raises, so what it defined before the error stays reachable."""
    if name in sys.modules:
        return sys.modules[name]
    parent, _, child = name.rpartition(".")
    if parent:
        importlib.import_module(parent)
    spec = finder.find_spec(name)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if parent:
        setattr(sys.modules[parent], child, module)
    finder.exec_module(module)
    return module


# --- describing the namespace ------------------------------------------------------------


def describe_symbols(module: types.ModuleType) -> list[dict[str, Any]]:
    """Name, kind, signature and parameters of what the module's namespace holds."""
    out = []
    for name, value in list(vars(module).items()):
        if name.startswith("__") or len(out) >= MAX_SYMBOLS:
            continue
        out.append(describe(name, value, module.__name__))
    return out


def describe(name: str, value: Any, module_name: str) -> dict[str, Any]:
    """One symbol as plain JSON data."""
    if inspect.ismodule(value):
        kind = "module"
    elif inspect.isclass(value):
        kind = "class"
    elif inspect.isroutine(value) or type(value).__name__ == "partial":
        kind = "function"
    else:
        kind = "value"
    signature, params = None, []
    if kind in ("class", "function"):
        try:
            sig = inspect.signature(value)
            signature = str(sig)[:500]
            params = [_param(p) for p in sig.parameters.values()]
        except (TypeError, ValueError):
            pass  # builtins and some C types have no introspectable signature
    defined_here = (
        kind in ("class", "function") and getattr(value, "__module__", None) == module_name
    )
    return {
        "name": name,
        "kind": kind,
        "signature": signature,
        "params": params,
        "defined_here": defined_here,
    }


def _param(p: inspect.Parameter) -> dict[str, Any]:
    has_default = p.default is not inspect.Parameter.empty
    default = None
    if has_default:
        try:
            default = repr(p.default)[:200]
        except Exception:  # noqa: BLE001 - an untrusted default's __repr__ may fail
            default = "<unrepresentable>"
    return {
        "name": p.name,
        "kind": p.kind.name.lower(),
        "has_default": has_default,
        "default_repr": default,
    }
