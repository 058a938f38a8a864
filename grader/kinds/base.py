"""The plug-in interface: what a kind of task declares and the hooks the pipeline calls.

A *kind* is everything the grader knows about one sort of task (scaled dot-product
attention, a language model that must train, a function compared with the interviewer's
reference, ...). An assignment lists tasks; each task names its kind and gives the kind's
options. The pipeline knows kinds only through this interface, in this order:

1. ``prepare(run)``: learn what other tasks' checks will need (e.g. the candidate's mask
   convention), before any check runs;
2. ``check(run)``: the property checks, one `CheckResult` per declared `Check`;
3. ``train(run)``: a training check, for kinds with ``trains = True``;
4. ``timing_items(run)``: what to time against the reference, for kinds with ``timed``.

Every hook receives a `TaskRun`: the worker holding the candidate's code, the task and its
typed options, the symbols resolved for every task, facts shared between tasks, and a
trusted reference worker started on first use. A hook never sees another submission and
never runs candidate code in the grader's process: everything it judges came out of the
worker.

A kind's options are a frozen dataclass: the assignment's TOML is validated against its
fields when the assignment loads, so an unknown key is an error that names the known ones.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from grader.checks.base import SuiteContext
from grader.result import CheckResult, TrainingResult

if TYPE_CHECKING:
    from grader.timing import Item

TaskRun = SuiteContext
"""The context every hook receives (see `grader.checks.base.SuiteContext`)."""


class KindError(ValueError):
    """A kind is unknown, or an assignment's options for it are malformed."""


@dataclass(frozen=True)
class Check:
    """One check a kind declares: listed without running anything, and documented from here."""

    name: str
    """The property's name; its full name in results is ``<task id>.<name>``."""
    what: str
    """What it checks, in one sentence (the docs' check table is generated from it)."""
    criterion: Literal["completion", "reusability"] = "completion"
    """``completion`` for correctness, ``reusability`` for generality (other sizes, defaults)."""


@dataclass(frozen=True)
class NoOptions:
    """A kind that takes no options."""


@dataclass(frozen=True)
class Trained:
    """What a kind's ``train`` hook returns."""

    result: TrainingResult | None
    """The runs, curves and corpus for the report (None when nothing could train)."""
    checks: list[CheckResult]
    """The task's checks that come from training."""


class Kind:
    """Base class of every kind. Subclasses set the class attributes and override the hooks
    they need; the defaults do nothing."""

    name: ClassVar[str] = ""
    """The id assignments use: ``kind = "attention"``."""
    title: ClassVar[str] = ""
    """What the kind grades, in a few words (``grader kinds`` and the docs show it)."""
    Options: ClassVar[type] = NoOptions
    """A frozen dataclass of the kind's options, validated from the TOML."""
    checks: ClassVar[tuple[Check, ...]] = ()
    """Every check the kind can run, in the order it runs them."""
    symbol_kind: ClassVar[Literal["function", "class"] | None] = None
    """What the candidate's symbol must be; None when either will do."""
    parts: ClassVar[tuple[str, ...]] = ()
    """Roles of further functions the task may name with ``parts`` in the TOML (the language
    model's ``train`` and ``evaluate``); resolved like the task's own symbol."""
    runs_without_symbol: ClassVar[bool] = False
    """Run ``check`` even when no symbol was found (a mask built inline, data checked alone)."""
    trains: ClassVar[bool] = False
    """The kind has a ``train`` hook (the pipeline runs it after every task's checks)."""
    timed: ClassVar[bool] = False
    """The kind has ``timing_items`` (its code is timed against the reference)."""
    reference_modules: ClassVar[tuple[str, ...]] = ()
    """Modules of the project's ``reference`` package the kind's trusted worker needs."""
    depends_on: ClassVar[tuple[str, ...]] = ()
    """Kinds whose candidate parts this kind's code calls (a multi-head attention calls their
    ``attention``): when one of those fails its own checks or hangs, this task is graded again
    with a stand-in in its place, and its verdict is the one in isolation."""
    stand_in: ClassVar[bool] = False
    """A correct stand-in of this kind's part exists (`standin_recipes.stand_in`), so the tasks
    that depend on it can be graded in isolation."""

    def declared_checks(self, options: Any) -> tuple[Check, ...]:
        """The checks a task with these options runs (all of ``checks`` unless a kind's
        options switch some off)."""
        return self.checks

    def validate(self, options: Any, where: str, reference_names: frozenset[str] | None) -> None:
        """Raise `KindError` when options name something that does not exist (e.g. a reference
        function missing from ``reference.py``, whose top-level names are
        ``reference_names``; None when the assignment has no reference file)."""

    def prepare(self, run: TaskRun) -> None:
        """Learn what the checks of this or other tasks need; store it in ``run.shared``."""

    def check(self, run: TaskRun) -> list[CheckResult]:
        """The task's property checks."""
        return []

    def train(self, run: TaskRun) -> Trained | None:
        """The task's training check (kinds with ``trains``)."""
        return None

    def timing_items(self, run: TaskRun, reference: Any) -> list[Item]:
        """What to time: each item runs the candidate's code and the reference's, same work."""
        return []

    def correct(self, checks: Sequence[CheckResult]) -> bool:
        """Whether the task's code gives right results, so that timing it means something:
        every correctness check passed (or did not apply)."""
        relevant = [c for c in checks if c.criterion == "completion"]
        return bool(relevant) and all(c.status in ("pass", "skip") for c in relevant)


# --- options ---------------------------------------------------------------------------------


def parse_options(cls: type, raw: dict[str, Any], where: str) -> Any:
    """An instance of the options dataclass ``cls`` from the TOML table ``raw``.

    Unknown keys and values of the wrong type are errors that say where and list what is
    allowed; missing keys take the dataclass's defaults."""
    if not isinstance(raw, dict):
        raise KindError(f"{where}: options must be a table, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none (this kind takes no options)"
        raise KindError(f"{where}: unknown option(s) {', '.join(unknown)}; known: {known}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        values[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise KindError(f"{where}: {exc}") from None


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` (as TOML gives it) checked against the annotation ``tp``; lists become tuples."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except KindError as exc:
                errors.append(str(exc))
        raise KindError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if origin is Literal:
        if value not in args:
            raise KindError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise KindError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise KindError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, dict):
            raise KindError(f"{where}: expected a table, got {type(value).__name__}")
        _key_type, item_type = args or (str, Any)
        return {str(k): _coerce(v, item_type, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return parse_options(tp, value, where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise KindError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise KindError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise KindError(f"{where}: expected a {tp.__name__}, got {value!r}")
        return value
    return value


def describe_options(cls: type) -> list[tuple[str, str, str]]:
    """(name, default, docstring) of each option, for ``grader kinds`` and the docs."""
    docs = _field_docs(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = repr(f.default_factory())  # type: ignore[misc]
        else:
            default = "(required)"
        rows.append((f.name, default, docs.get(f.name, "")))
    return rows


def _field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (the convention this project uses),
    inherited fields included."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs |= _own_field_docs(klass)
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    """The docstrings under the fields a class itself declares."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


Hook = Callable[[TaskRun], Any]
