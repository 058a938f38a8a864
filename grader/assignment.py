"""Assignments as data: an interviewer adds a test by adding a folder, not by editing code.

An assignment folder holds ``assignment.toml`` (tasks, each with the kind that grades it and
the kind's options, symbol names and aliases, written questions with rubrics, criterion
weights), the handout it names (the starter code a candidate receives, as a ``py:percent``
file) and, optionally, ``reference.py`` (the interviewer's solution, which generic kinds
compare against in a trusted worker) and a check module of its own (a plug-in registering
more kinds, see `grader.kinds`). Built-in assignments live in ``grader/assignments/`` and
use the same mechanism; more folders can be added with ``--assignments-dir`` or the
``GRADER_ASSIGNMENTS`` environment variable (``os.pathsep``-separated), or named by path.

Everything is validated when the folder loads: an unknown key, kind or option, a missing
file or a reference function that ``reference.py`` does not define is an `AssignmentError`
naming the problem and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUILTIN_DIR = Path(__file__).parent / "assignments"


class AssignmentError(ValueError):
    """An assignment folder is malformed or an assignment name is unknown."""


@dataclass(frozen=True)
class TaskSpec:
    """One gradable task of an assignment."""

    id: str
    """Task id used in result.json, e.g. ``attention``."""
    title: str
    """Human title."""
    kind: str
    """The kind that grades it (`grader.kinds`), e.g. ``attention`` or ``function``."""
    symbols: tuple[str, ...] = ()
    """Names the handout uses for the candidate's symbol, tried first."""
    aliases: tuple[str, ...] = ()
    """Other common names (e.g. ``generate_square_subsequent_mask`` for the mask)."""
    weight: float = 1.0
    """Weight in the completion criterion."""
    options: Any = None
    """The kind's options: an instance of its options dataclass, validated at load time."""
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Further functions of the task by role (``train``, ``evaluate``): names to look for."""

    @property
    def suite(self) -> str:
        """The kind's name (the older word for it)."""
        return self.kind


@dataclass(frozen=True)
class RubricPoint:
    """A key point a written answer should make."""

    id: str
    text: str
    """The point in words, as the scorecard shows it."""
    patterns: tuple[str, ...]
    """Regular expressions (case-insensitive); any match in a sentence earns the point."""
    weight: float = 1.0


@dataclass(frozen=True)
class Misconception:
    """A known wrong claim to flag in a written answer."""

    id: str
    message: str
    """Why the claim is wrong, for the candidate."""
    patterns: tuple[str, ...]
    """Regular expressions (case-insensitive) that spot the claim in one sentence."""


@dataclass(frozen=True)
class Question:
    """A written question of the assignment."""

    id: str
    prompt: str
    """The question as the handout asks it."""
    match: tuple[str, ...]
    """Phrases (regular expressions) that locate the question or its answer in a submission."""
    rubric: tuple[RubricPoint, ...] = ()
    misconceptions: tuple[Misconception, ...] = ()
    weight: float = 1.0
    """Weight in the completion criterion (written answers count towards completion only)."""


@dataclass(frozen=True)
class Assignment:
    """A test the harness knows how to grade."""

    id: str
    title: str
    description: str
    folder: Path
    tasks: tuple[TaskSpec, ...]
    questions: tuple[Question, ...] = ()
    handout_file: str | None = None
    """File name of the handout (py:percent) inside the folder."""
    criterion_weights: dict[str, float] | None = None
    """Overrides of the default criterion weights for this test."""
    reference_file: str | None = None
    """The interviewer's solution (``reference.py``) inside the folder: loaded into the
    trusted worker only, never into the candidate's; generic kinds compare against it."""
    checks_file: str | None = None
    """The assignment's own check module (a plug-in that registers kinds), inside the folder."""
    main_file: str | None = None
    """For a submission handed in as a folder or archive: which file is the main one (a name
    or a glob), when the grader's rule (the file defining most tasks) is not wanted."""
    extra_packages: tuple[str, ...] = ()
    """Packages this test's candidates may import beyond the candidate environment's
    (README, "The candidate's environment"): the grader warns when one is not installed."""
    traps: tuple[Any, ...] = ()
    """The flaws the handout carries on purpose (`grader.traps.Trap`, from ``[[traps]]``)."""
    fills: dict[str, str] = field(default_factory=dict)
    """The handout's ``TODO`` lines as a solution fills them in (``[fills]``: handout line ->
    replacement), for `grader handout --check` (`grader.traps.parse_fills`)."""

    @property
    def reference_path(self) -> Path | None:
        return self.folder / self.reference_file if self.reference_file else None

    def reference_source(self) -> str:
        path = self.reference_path
        return path.read_text(encoding="utf-8") if path and path.exists() else ""

    def training_tasks(self) -> tuple[TaskSpec, ...]:
        """The tasks whose kind trains a model."""
        from grader import kinds

        return tuple(t for t in self.tasks if kinds.get(t.kind).trains)

    @property
    def handout_path(self) -> Path | None:
        return self.folder / self.handout_file if self.handout_file else None

    def handout_source(self) -> str:
        path = self.handout_path
        return path.read_text(encoding="utf-8") if path and path.exists() else ""

    def task(self, task_id: str) -> TaskSpec:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)


def search_path(extra: list[str | Path] | None = None) -> list[Path]:
    """Folders searched for assignments: explicit ones first, then the environment, then
    the built-ins."""
    folders = [Path(p) for p in (extra or [])]
    env = os.environ.get("GRADER_ASSIGNMENTS", "")
    folders += [Path(p) for p in env.split(os.pathsep) if p]
    folders.append(BUILTIN_DIR)
    return folders


def available(extra: list[str | Path] | None = None) -> dict[str, Assignment]:
    """Every assignment found on the search path, by id (earlier folders win). Raises
    `AssignmentError` listing every malformed folder found."""
    found, errors = scan(extra)
    if errors:
        raise AssignmentError("; ".join(errors))
    return found


def scan(extra: list[str | Path] | None = None) -> tuple[dict[str, Assignment], list[str]]:
    """(the assignments that load, by id; one message per folder that does not)."""
    found: dict[str, Assignment] = {}
    errors: list[str] = []
    for root in search_path(extra):
        candidates = [root] if (root / "assignment.toml").exists() else sorted(root.glob("*/"))
        for folder in candidates:
            if (folder / "assignment.toml").exists():
                try:
                    assignment = load(folder)
                except AssignmentError as exc:
                    errors.append(str(exc))
                    continue
                found.setdefault(assignment.id, assignment)
    return found, errors


def get(name: str, extra: list[str | Path] | None = None) -> Assignment:
    """The assignment called ``name`` (an id or a folder path)."""
    if Path(name, "assignment.toml").exists():
        return load(Path(name))
    known, errors = scan(extra)
    if name not in known:
        names = ", ".join(sorted(known)) or "none"
        broken = f" (and {len(errors)} malformed: {'; '.join(errors)})" if errors else ""
        raise AssignmentError(f"unknown assignment {name!r}; known: {names}{broken}")
    return known[name]


ASSIGNMENT_KEYS = frozenset(
    {"id", "title", "description", "handout", "reference", "checks", "criterion_weights"}
    | {"tasks", "questions", "main_file", "extra_packages", "traps", "fills"}
)
TASK_KEYS = frozenset({"id", "title", "kind", "symbols", "aliases", "weight", "options", "parts"})
QUESTION_KEYS = frozenset({"id", "prompt", "match", "rubric", "misconceptions", "weight"})
RUBRIC_KEYS = frozenset({"id", "text", "patterns", "weight"})
MISCONCEPTION_KEYS = frozenset({"id", "message", "patterns"})
CRITERIA = ("completion", "optimisation", "reusability", "readability")


def load(folder: Path) -> Assignment:
    """Parse and validate ``folder/assignment.toml``: every key, every task's kind and options,
    and the files it names. Raises `AssignmentError` saying what is wrong and what is allowed."""
    from grader import kinds
    from grader.traps import parse_fills, parse_traps

    path = folder / "assignment.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(f"{path}: {exc}") from exc
    try:
        _keys(data, ASSIGNMENT_KEYS, str(path))
        checks_file = _file(folder, data.get("checks"), "checks", path)
        if checks_file:
            kinds.load_module(folder / checks_file, owner=str(data.get("id", folder.name)))
        reference_file = _file(folder, data.get("reference"), "reference", path)
        reference_names = kinds.top_level_names(folder / reference_file) if reference_file else None
        tasks = tuple(
            _task(t, f"{path}: task {i + 1}") for i, t in enumerate(data.get("tasks", []))
        )
        if not tasks:
            raise AssignmentError(f"{path}: no [[tasks]]: an assignment grades at least one task")
        _unique([t.id for t in tasks], "task id", path)
        for task in tasks:
            kinds.get(task.kind).validate(
                task.options, f"{path}: task {task.id!r}", reference_names
            )
        questions = tuple(_question(q, path) for q in data.get("questions", []))
        _unique([q.id for q in questions], "question id", path)
        weights = data.get("criterion_weights")
        if weights is not None:
            _keys(weights, frozenset(CRITERIA), f"{path}: criterion_weights")
        handout = _file(folder, data.get("handout"), "handout", path)
        traps = parse_traps(
            data.get("traps", []), str(path), _text(folder, handout), [t.id for t in tasks]
        )
        fills = parse_fills(data.get("fills", {}), str(path), _text(folder, handout))
        return Assignment(
            id=data["id"],
            title=data.get("title", data["id"]),
            description=data.get("description", ""),
            folder=folder,
            tasks=tasks,
            questions=questions,
            handout_file=handout,
            criterion_weights=weights,
            reference_file=reference_file,
            checks_file=checks_file,
            main_file=data.get("main_file"),
            extra_packages=tuple(data.get("extra_packages", ())),
            traps=traps,
            fills=fills,
        )
    except kinds.KindError as exc:
        raise AssignmentError(str(exc)) from exc
    except (KeyError, TypeError) as exc:
        raise AssignmentError(f"{path}: missing or malformed field {exc}") from exc


def _keys(table: Any, allowed: frozenset[str], where: str) -> None:
    """Raise when ``table`` has a key outside ``allowed`` (a typo must not pass in silence)."""
    if not isinstance(table, dict):
        raise AssignmentError(f"{where}: expected a table, got {type(table).__name__}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        hint = ""
        if "suite" in unknown:
            hint = " (`suite` is now `kind`)"
        elif "training" in unknown:
            hint = " (the training set-up is now the options of a task whose kind trains)"
        raise AssignmentError(
            f"{where}: unknown key(s) {', '.join(unknown)}{hint}; known: {', '.join(sorted(allowed))}"
        )


def _text(folder: Path, name: str | None) -> str:
    return (folder / name).read_text(encoding="utf-8") if name else ""


def _unique(ids: list[str], what: str, path: Path) -> None:
    seen = {i for i in ids if ids.count(i) > 1}
    if seen:
        raise AssignmentError(f"{path}: {what} repeated: {', '.join(sorted(seen))}")


def _file(folder: Path, name: Any, key: str, path: Path) -> str | None:
    """A file the assignment names, which must exist inside its folder."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise AssignmentError(f"{path}: {key} must be a file name, got {name!r}")
    target = (folder / name).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise AssignmentError(f"{path}: {key} = {name!r} lies outside the assignment's folder")
    if not target.is_file():
        raise AssignmentError(f"{path}: {key} = {name!r}: no such file in {folder}")
    return name


def _task(t: dict[str, Any], where: str) -> TaskSpec:
    from grader import kinds

    _keys(t, TASK_KEYS, where)
    where = f"{where.rsplit(': task', 1)[0]}: task {t['id']!r}"
    if "kind" not in t:
        known = ", ".join(kinds.known())
        raise AssignmentError(f"{where}: no kind; known kinds: {known}")
    kind = kinds.get(t["kind"], where)
    parts = t.get("parts", {})
    _keys(parts, frozenset(kind.parts), f"{where}: parts")
    return TaskSpec(
        id=t["id"],
        title=t.get("title", t["id"]),
        kind=t["kind"],
        symbols=tuple(t.get("symbols", ())),
        aliases=tuple(t.get("aliases", ())),
        weight=float(t.get("weight", 1.0)),
        options=kinds.parse_options(kind.Options, t.get("options", {}), f"{where}: options"),
        parts={role: tuple(names) for role, names in parts.items()},
    )


def _question(q: dict[str, Any], path: Path) -> Question:
    where = f"{path}: question {q.get('id', '?')!r}"
    _keys(q, QUESTION_KEYS, where)
    for p in q.get("rubric", []):
        _keys(p, RUBRIC_KEYS, f"{where}: rubric")
    for m in q.get("misconceptions", []):
        _keys(m, MISCONCEPTION_KEYS, f"{where}: misconceptions")
    return Question(
        id=q["id"],
        prompt=q["prompt"],
        match=tuple(q.get("match", ())),
        rubric=tuple(
            RubricPoint(p["id"], p["text"], tuple(p["patterns"]), float(p.get("weight", 1.0)))
            for p in q.get("rubric", [])
        ),
        misconceptions=tuple(
            Misconception(m["id"], m["message"], tuple(m["patterns"]))
            for m in q.get("misconceptions", [])
        ),
        weight=float(q.get("weight", 1.0)),
    )
