"""Find the candidate's implementation of each task of an assignment.

For each task, in order of precedence:

1. an **override** (``--map task=symbol``; ``--map training.train=fn`` for the training
   task's loop functions) wins over everything, and fails loudly when the symbol does not
   exist, rather than falling back to a guess;
2. the handout's **name** (``TaskSpec.symbols``), exactly;
3. an **alias**: the task's names and aliases compared without case and underscores
   (``Multi_Head_Attention`` is ``MultiHeadAttention``), then a close match of the same
   kind (``difflib`` ratio at least 0.8, e.g. ``MultiHeadAttn``), never one that is
   another task's name or alias or a name the handout defines (``TransformerEncoder`` is
   close to the alias ``TransformerEncoderLayer`` but is the handout's own stack);
4. **inline**, for tasks that can be built without a function of their own (the causal
   mask: ``options.observe_in``): a ``tril``/``triu`` call inside the functions named
   there, else inside any function, else at top level; the check suite then observes
   the masks at run time.

A definition that is still the handout's placeholder (``raise NotImplementedError``,
``pass``) is passed over: the task counts as not attempted. A task is also missing when
the cell defining it has a syntax error, and the message says so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from typing import Literal

from grader.assignment import Assignment, TaskSpec
from grader.intake.extract import Definition, Extracted, MaskSite
from grader.intake.provenance import handout_index

ResolvedBy = Literal["name", "alias", "override", "inline"]

FUZZY_CUTOFF = 0.8
"""Least ``difflib`` ratio between normalised names for a close match: ``MultiHeadAttn``
matches ``MultiHeadAttention`` (0.88); ``attention`` does not match ``Attn`` (0.62)."""


@dataclass(frozen=True)
class Resolution:
    """Which of the candidate's symbols implements one task, and how it was found."""

    task: str
    symbol: str | None
    """The candidate's function or class; for a mask built inline, the function it is
    built in (``None`` when at top level); ``None`` when missing."""
    resolved_by: ResolvedBy | None
    """How it was found; ``None`` when the task is missing (not attempted)."""
    kind: str | None = None
    """``function`` or ``class``; ``None`` when missing or inline."""
    candidates_considered: tuple[str, ...] = ()
    """Names looked at, in order, including those passed over (and why, in ``message``)."""
    message: str = ""
    """How it was resolved or why it is missing, in words for the report."""
    where: tuple[str, ...] = ()
    """For ``inline``: where the mask is built (function, cell, line)."""
    parts: dict[str, str | None] = field(default_factory=dict)
    """For the training task: ``model``, ``train`` and ``evaluate`` symbols."""

    @property
    def found(self) -> bool:
        return self.resolved_by is not None


def resolve(
    extracted: Extracted, assignment: Assignment, overrides: dict[str, str] | None = None
) -> dict[str, Resolution]:
    """Resolve every task of ``assignment`` (see the module docstring), with the further
    functions its kind names (``parts``: a language model's ``train`` and ``evaluate``).
    Raises ``ValueError`` for an override naming a task the assignment does not have."""
    from grader import kinds as registry

    overrides = dict(overrides or {})
    keys = {t.id for t in assignment.tasks}
    keys |= {f"{t.id}.{role}" for t in assignment.tasks for role in registry.get(t.kind).parts}
    unknown = sorted(set(overrides) - keys)
    if unknown:
        raise ValueError(f"--map names unknown task(s) {unknown}; known: {sorted(keys)}")
    kinds = handout_index(assignment.handout_source()).kinds
    claimed = {_normal(n) for t in assignment.tasks for n in (*t.symbols, *t.aliases)}
    claimed |= {_normal(n) for n in kinds}  # the handout's own classes serve their own purpose
    resolutions = {}
    for task in assignment.tasks:
        names = list(task.symbols)
        expected = next((kinds[n] for n in task.symbols if n in kinds), None)
        finder = _Finder(extracted, names, task.aliases, expected, claimed)
        resolution = finder.find(task, overrides.get(task.id))
        roles = registry.get(task.kind).parts
        if roles:
            resolution = _with_parts(resolution, extracted, task, roles, overrides)
        resolutions[task.id] = resolution
    return resolutions


@dataclass
class _Finder:
    """Looks up one task's symbol through the tiers of the module docstring."""

    extracted: Extracted
    names: list[str]
    aliases: tuple[str, ...]
    expected_kind: str | None
    claimed: set[str]
    considered: list[str] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)

    def find(self, task: TaskSpec, override: str | None) -> Resolution:
        if override is not None:
            return self._override(task, override)
        callables = {
            n: d for n, d in self.extracted.definitions.items() if d.kind in ("function", "class")
        }
        tiers: list[tuple[ResolvedBy, list[str]]] = [
            ("name", [n for n in self.names if n in callables]),
            ("alias", self._aliases(callables)),
            ("alias", self._close(callables)),
        ]
        for how, found in tiers:
            for name in found:
                if name in self.considered:
                    continue
                definition = self._usable(callables[name])
                if definition is not None:
                    return self._found(task, definition, how)
        observe_in = tuple(getattr(task.options, "observe_in", ()))
        sites = self.extracted.mask_sites if observe_in else ()
        if sites:
            return self._inline(task, sites, observe_in)
        return Resolution(task.id, None, None, None, tuple(self.considered), self._missing(task))

    def _override(self, task: TaskSpec, name: str) -> Resolution:
        definition = self.extracted.definitions.get(name)
        if definition is None or definition.kind not in ("function", "class"):
            message = f"--map {task.id}={name}: the submission has no function or class `{name}`"
            return Resolution(task.id, None, None, None, (name,), message + self._lost(name))
        note = " (still the handout's placeholder)" if definition.stub else ""
        message = f"`{name}` chosen by --map{note}" + _globals_note(definition)
        return Resolution(task.id, name, "override", definition.kind, (name,), message)

    def _aliases(self, callables: dict[str, Definition]) -> list[str]:
        wanted = {_normal(n) for n in (*self.names, *self.aliases)}
        return [n for n in callables if _normal(n) in wanted and n not in self.names]

    def _close(self, callables: dict[str, Definition]) -> list[str]:
        """Names of the expected kind close to a task name, best first."""
        pool = {
            _normal(n): n
            for n, d in callables.items()
            if _normal(n) not in self.claimed and self.expected_kind in (None, d.kind)
        }
        close: list[str] = []
        for wanted in (*self.names, *self.aliases):
            for match in difflib.get_close_matches(_normal(wanted), pool, n=3, cutoff=FUZZY_CUTOFF):
                close.append(pool[match])
        return list(dict.fromkeys(close))

    def _usable(self, definition: Definition) -> Definition | None:
        """``definition`` unless it is a placeholder or of the wrong kind (noted either way)."""
        self.considered.append(definition.name)
        if self.expected_kind and definition.kind != self.expected_kind:
            self.passed_over.append(
                f"`{definition.name}` is a {definition.kind}, not a {self.expected_kind}"
            )
            return None
        if definition.stub:
            self.passed_over.append(
                f"`{definition.name}` is still the handout's placeholder (raises NotImplementedError"
                " or does nothing): not attempted"
            )
            return None
        return definition

    def _found(self, task: TaskSpec, definition: Definition, how: ResolvedBy) -> Resolution:
        message = f"`{definition.name}` (cell {definition.cell}, line {definition.cell_line})"
        if how == "alias":
            message += f", taken for the handout's `{self.names[0]}`"
        if self.passed_over:
            message += "; passed over: " + "; ".join(self.passed_over)
        message += _globals_note(definition)
        considered = tuple(self.considered)
        return Resolution(task.id, definition.name, how, definition.kind, considered, message)

    def _inline(
        self, task: TaskSpec, sites: tuple[MaskSite, ...], observe_in: tuple[str, ...]
    ) -> Resolution:
        def owner(site: MaskSite) -> str | None:
            return site.function.split(".")[0] if site.function else None

        preferred = (
            [s for s in sites if owner(s) in observe_in]
            or [s for s in sites if s.function and s.extracted_line is not None]
            or list(sites)
        )
        ordered = preferred + [s for s in sites if s not in preferred]
        where = tuple(_describe(s) for s in ordered)
        symbol = owner(ordered[0])
        seen = f"in {symbol}()" if symbol else "at top level"
        message = f"no mask function; the mask is built inline {seen}: {where[0]}"
        if symbol is None:
            message += " (top-level work is not run: only masks that reach the model are seen)"
        if self.passed_over:
            message += "; passed over: " + "; ".join(self.passed_over)
        return Resolution(task.id, symbol, "inline", None, tuple(self.considered), message, where)

    def _missing(self, task: TaskSpec) -> str:
        if self.passed_over:
            return "not attempted: " + "; ".join(self.passed_over)
        lost = self._lost(*self.names, *self.aliases)
        names = list(dict.fromkeys((*self.names, *self.aliases)))
        listed = ", ".join(f"`{n}`" for n in names[:6])
        return f"not found: no function or class named {listed} (or close to it){lost}"

    def _lost(self, *names: str) -> str:
        return _lost(self.extracted, names)


def _with_parts(
    resolution: Resolution,
    extracted: Extracted,
    task: TaskSpec,
    roles: tuple[str, ...],
    overrides: dict[str, str],
) -> Resolution:
    """The task's resolution with its further functions (``train``, ``evaluate``), found by
    the names its ``parts`` list or chosen by ``--map task.role=name``."""
    parts: dict[str, str | None] = {"model": resolution.symbol}
    notes = []
    for role in roles:
        names = task.parts.get(role, ())
        chosen = overrides.get(f"{task.id}.{role}") or _function(extracted, names)
        definition = extracted.definitions.get(chosen) if chosen else None
        parts[role] = chosen if definition is not None else None
        notes.append(
            f"{role}: `{chosen}`" if parts[role] else f"{role}: none found{_lost(extracted, names)}"
        )
    message = f"{resolution.message}; loop functions: {', '.join(notes)}"
    return replace(resolution, message=message, parts=parts)


def _lost(extracted: Extracted, names: tuple[str, ...]) -> str:
    """Why one of ``names`` may be absent: the cell defining it did not parse."""
    for error in extracted.syntax_errors:
        for name in names:
            if name in error.names:
                return (
                    f" (`{name}` is defined in cell {error.cell}, which has a syntax error at "
                    f"line {error.line}: {error.message})"
                )
    return ""


def _function(extracted: Extracted, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` (exactly, then without case) the submission defines as a
    function that is not a placeholder."""
    functions = {
        n: d for n, d in extracted.definitions.items() if d.kind == "function" and not d.stub
    }
    for name in names:
        if name in functions:
            return name
    by_normal = {_normal(n): n for n in functions}
    return next((by_normal[_normal(n)] for n in names if _normal(n) in by_normal), None)


def _describe(site: MaskSite) -> str:
    where = f"{site.function}()" if site.function else "top level"
    return f"{where}, cell {site.cell} line {site.line}: {site.text}"


def _globals_note(definition: Definition) -> str:
    if not definition.missing_globals:
        return ""
    names = ", ".join(f"`{n}`" for n in definition.missing_globals)
    return f"; note: it reads {names}, which only skipped top-level work defines"


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())
