"""Load source text as modules inside the worker, and describe what they define.

Runs inside the worker; imports nothing from ``grader``. The sources arrive as strings over
the protocol, so the worker never needs to see the project's files: a submission is one
module (``submission``), the trusted reference is a package (``reference.attention``, ...)
whose modules import each other as usual through a finder that serves the strings.

A module whose top level raises stays loaded as far as it got: a notebook that fails in its
last cell still has the functions its earlier cells defined, and those can be graded.

**Missing packages.** A module's top level runs one statement at a time. When the candidate's
code imports a package the environment does not have (``import pandas as pd``), the import
binds a placeholder (`MissingModule`) instead of failing: using it (calling anything in it,
subclassing, iterating) raises `MissingPackage`, a ``ModuleNotFoundError`` naming the
package. A top-level statement that fails that way (``@njit`` on a function, a class based
on ``pl.LightningModule``) is left out and recorded, and the load goes on, so only what
needs the package fails; any other error still ends the load as before. Placeholders are
served only while the modules load, and only to imports their own code makes (the stack
says who imports): never to a library probing for an optional dependency, and an import
inside a function, run later, raises the usual ``ModuleNotFoundError`` there.
"""

from __future__ import annotations
import __future__

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import linecache
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any

MAX_SYMBOLS = 500
"""Symbols described in a load reply; a namespace with more is cut (the rest stay callable)."""


class SourceFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves modules from a ``{dotted name: source}`` dict; parents of dotted names are
    packages (empty unless their own source is given)."""

    def __init__(self, sources: dict[str, str], filenames: dict[str, str]) -> None:
        self.sources = sources
        self.filenames = filenames
        self.left_out: list[LeftOut] = []
        """Statements of the served modules left out for a missing package."""

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
        filename = self.filenames[module.__name__]
        self.left_out += run_statements(source, filename, module.__dict__)


# --- running a module, statement by statement ---------------------------------------------------


class MissingPackage(ModuleNotFoundError):
    """The candidate's code used a package the grader's environment does not provide."""


class MissingModule(types.ModuleType):
    """What ``import pandas`` binds when pandas is not installed: a module whose every
    attribute is a `Missing` placeholder (so ``from pandas import DataFrame`` works too)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__path__: list[str] = []  # a package: ``import pandas.io.formats`` works too

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return Missing(f"{self.__name__}.{attribute}")


class Missing:
    """A name from a package that is not installed: fine to look up, fails when used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise missing_error(self._name)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return Missing(f"{self._name}.{attribute}")

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        raise missing_error(self._name)

    def __repr__(self) -> str:
        return f"<{self._name}: not installed>"

    __call__ = __iter__ = __getitem__ = __len__ = __enter__ = __exit__ = _fail
    __add__ = __sub__ = __mul__ = __truediv__ = __matmul__ = __lt__ = __gt__ = _fail


def missing_error(name: str) -> MissingPackage:
    package = name.split(".")[0]
    return MissingPackage(
        f"No module named '{package}': the grader's environment does not provide it "
        f"(used as {name})",
        name=package,
    )


class MissingFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on ``sys.meta_path``: asked only when no other finder has the module. Serves a
    `MissingModule` when the import comes from one of ``filenames`` (the loaded code)."""

    def __init__(self, filenames: frozenset[str]) -> None:
        self.filenames = filenames
        self.missing: set[str] = set()
        self.active = True
        """Only while the modules load (`load_modules` turns it off after)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.active or not _imported_by(self.filenames):
            return None
        self.missing.add(fullname.split(".")[0])
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return MissingModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def _imported_by(filenames: frozenset[str]) -> bool:
    """Whether the import being resolved was written in one of ``filenames``: the first
    frame outside the import machinery (and this file) decides."""
    frame = sys._getframe(1)
    here = os.path.abspath(__file__)
    while frame is not None:
        name = frame.f_code.co_filename
        machinery = name.startswith("<frozen importlib") or name == here
        if not machinery and not name.endswith(os.path.join("importlib", "__init__.py")):
            return name in filenames
        frame = frame.f_back
    return False


@dataclass
class LeftOut:
    """A top-level statement not run because it needs a package that is not installed."""

    line: int
    package: str
    message: str


def run_statements(source: str, filename: str, namespace: dict[str, Any]) -> list[LeftOut]:
    """Run ``source`` in ``namespace`` one top-level statement at a time (``from __future__``
    flags carried over), leaving out the statements that fail with `MissingPackage`; any
    other exception propagates, as running the module whole would raise it."""
    tree = ast.parse(source, filename)
    flags, left_out = 0, []
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            for alias in stmt.names:
                feature = getattr(__future__, alias.name, None)
                flags |= getattr(feature, "compiler_flag", 0)
        code = compile(ast.Module([stmt], []), filename, "exec", flags=flags, dont_inherit=True)
        try:
            exec(code, namespace)  # noqa: S102 - running this source is the worker's job
        except MissingPackage as exc:
            left_out.append(LeftOut(stmt.lineno, exc.name or "", str(exc)))
    return left_out


@dataclass
class LoadOutcome:
    """What a load produced: the main module (possibly partial), the first error, and the
    filename of every module (tracebacks are trimmed to frames in these files)."""

    main: types.ModuleType
    error: BaseException | None
    filenames: frozenset[str]
    missing: tuple[str, ...] = ()
    """Packages the code imported that are not installed (placeholders were bound)."""
    left_out: list[LeftOut] = field(default_factory=list)
    """Top-level statements not run because they need one of those packages."""


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
    own = _own_modules()
    for name in sources:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"{name!r} is not a module name")
        top = name.split(".")[0]
        if top in sys.modules and top not in own:
            raise ValueError(f"module name {name!r} is taken by an installed module")
    for name in sources:  # the candidate's `loader.py` wins over the worker's own `loader`
        sys.modules.pop(name.split(".")[0], None)  # (the worker keeps its references)
    finder = SourceFinder(sources, plan_filenames(sources, main, main_filename))
    sys.meta_path.insert(0, finder)
    missing = MissingFinder(frozenset(finder.filenames.values()))
    sys.meta_path.append(missing)
    for name, filename in finder.filenames.items():
        # Tracebacks read source lines through linecache; mtime None keeps them there.
        text = sources.get(name, "")
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    filenames = frozenset(finder.filenames.values())
    try:
        for name in sources:
            if name != main:
                importlib.import_module(name)
        module, error = _import_keeping_partial(finder, main), None
    except BaseException as exc:  # noqa: BLE001 - candidate code may raise anything, SystemExit too
        module, error = sys.modules.get(main) or types.ModuleType(main), exc
    missing.active = False
    return LoadOutcome(module, error, filenames, tuple(sorted(missing.missing)), finder.left_out)


def _own_modules() -> set[str]:
    """The worker's own modules (``loader``, ``protocol``, ...): files beside this one. A
    candidate's module of the same name replaces them in ``sys.modules``."""
    here = os.path.dirname(os.path.abspath(__file__))
    return {
        name
        for name, module in list(sys.modules.items())
        if os.path.dirname(os.path.abspath(getattr(module, "__file__", None) or "/")) == here
    }


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
