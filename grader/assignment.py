"""Assignments as data: an interviewer adds a test by adding a folder, not by editing code.

An assignment folder holds ``assignment.toml`` (tasks, symbol names and aliases, the check
suite each task uses, written questions with rubrics, the training set-up and criterion
weights) and the handout it names (the starter code a candidate receives, as a
``py:percent`` file). Built-in assignments live in ``grader/assignments/``; more folders
can be added with ``--assignments-dir`` or the ``GRADER_ASSIGNMENTS`` environment variable
(``os.pathsep``-separated).
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
    suite: str
    """Check suite from ``grader.checks`` that grades it (e.g. ``attention``)."""
    symbols: tuple[str, ...] = ()
    """Names the handout uses for the candidate's symbol, tried first."""
    aliases: tuple[str, ...] = ()
    """Other common names (e.g. ``generate_square_subsequent_mask`` for the mask)."""
    weight: float = 1.0
    """Weight in the completion criterion."""
    options: dict[str, Any] = field(default_factory=dict)
    """Suite-specific settings (constructor arguments, layout, sizes)."""


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
class TrainingSpec:
    """How the training check runs the candidate's model."""

    kind: str
    """``language_model`` (next-token prediction on a corpus) or ``positional_dummy`` (the
    reference's dummy task where position matters)."""
    model: tuple[str, ...] = ()
    """Names of the candidate's model class (handout name first, then aliases)."""
    train: tuple[str, ...] = ()
    """Names of the candidate's training function, if the handout has one."""
    evaluate: tuple[str, ...] = ()
    """Names of the candidate's evaluation function."""
    options: dict[str, Any] = field(default_factory=dict)
    """Model sizes, learning rate, batch size, window, layout."""


@dataclass(frozen=True)
class Assignment:
    """A test the harness knows how to grade."""

    id: str
    title: str
    description: str
    folder: Path
    tasks: tuple[TaskSpec, ...]
    questions: tuple[Question, ...] = ()
    training: TrainingSpec | None = None
    handout_file: str | None = None
    """File name of the handout (py:percent) inside the folder."""
    criterion_weights: dict[str, float] | None = None
    """Overrides of the default criterion weights for this test."""

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
    """Every assignment found on the search path, by id (earlier folders win)."""
    found: dict[str, Assignment] = {}
    for root in search_path(extra):
        candidates = [root] if (root / "assignment.toml").exists() else sorted(root.glob("*/"))
        for folder in candidates:
            if (folder / "assignment.toml").exists():
                assignment = load(folder)
                found.setdefault(assignment.id, assignment)
    return found


def get(name: str, extra: list[str | Path] | None = None) -> Assignment:
    """The assignment called ``name`` (an id or a folder path)."""
    if Path(name, "assignment.toml").exists():
        return load(Path(name))
    known = available(extra)
    if name not in known:
        names = ", ".join(sorted(known)) or "none"
        raise AssignmentError(f"unknown assignment {name!r}; known: {names}")
    return known[name]


def load(folder: Path) -> Assignment:
    """Parse ``folder/assignment.toml``."""
    path = folder / "assignment.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(f"{path}: {exc}") from exc
    try:
        tasks = tuple(_task(t) for t in data.get("tasks", []))
        questions = tuple(_question(q) for q in data.get("questions", []))
        training = _training(data["training"]) if "training" in data else None
        return Assignment(
            id=data["id"],
            title=data.get("title", data["id"]),
            description=data.get("description", ""),
            folder=folder,
            tasks=tasks,
            questions=questions,
            training=training,
            handout_file=data.get("handout"),
            criterion_weights=data.get("criterion_weights"),
        )
    except (KeyError, TypeError) as exc:
        raise AssignmentError(f"{path}: missing or malformed field {exc}") from exc


def _task(t: dict[str, Any]) -> TaskSpec:
    return TaskSpec(
        id=t["id"],
        title=t.get("title", t["id"]),
        suite=t.get("suite", t["id"]),
        symbols=tuple(t.get("symbols", ())),
        aliases=tuple(t.get("aliases", ())),
        weight=float(t.get("weight", 1.0)),
        options=dict(t.get("options", {})),
    )


def _question(q: dict[str, Any]) -> Question:
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


def _training(t: dict[str, Any]) -> TrainingSpec:
    return TrainingSpec(
        kind=t["kind"],
        model=tuple(t.get("model", ())),
        train=tuple(t.get("train", ())),
        evaluate=tuple(t.get("evaluate", ())),
        options=dict(t.get("options", {})),
    )
