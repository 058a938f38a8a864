"""One count per task, the same in every report.

Reports used to count a task's checks each their own way: the completion evidence counted
only correctness checks ("7/7 checks passed"), the task table every check including the
skipped ones ("8/9"), the CLI line the task's status, the Markdown summary the training
run's status instead of the training task's. A reader comparing two sections saw two
answers. Every format (scorecard, ``result.json``/``summary.json``, JUnit, Markdown, the CLI
line, the batch page) now reads `task_count`, and `tests/grader/test_task_counts.py` renders
each from one result and compares.

The count follows the task's status (`grader.scoring.task_status`): the checks that count
are those not skipped and not failing only because of the handout's untouched code
(`grader.scoring.counts`), of every criterion (a failing generality check fails its task as
much as a correctness one). A task not attempted has no count, and says so.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from grader.result import SubmissionResult, TaskResult
from grader.scoring import counts


@dataclass(frozen=True)
class TaskCount:
    """How one task came out, as every report states it."""

    id: str
    """Task id."""
    status: str
    """The task's status: ``pass``, ``fail``, ``error`` or ``missing``."""
    passed: int
    """Checks that count and passed."""
    counted: int
    """Checks that count (not skipped, not inherited from the handout)."""
    skipped: int = 0
    """Checks that did not apply (shown, not counted)."""
    inherited: int = 0
    """Checks failing only in the handout's untouched lines (shown, not counted)."""
    correctness_passed: int = 0
    """Of the counted checks, the correctness ones (criterion ``completion``) that passed:
    the completion criterion's share is computed from these."""
    correctness: int = 0
    """Counted correctness checks."""

    @property
    def label(self) -> str:
        """The count in every format: ``8/9``, or ``missing`` when not attempted."""
        return "missing" if self.status == "missing" else f"{self.passed}/{self.counted}"

    @property
    def text(self) -> str:
        """The count in a sentence: ``8 of 9 checks passed``."""
        if self.status == "missing":
            return "not attempted"
        return f"{self.passed} of {self.counted} checks passed"

    def as_dict(self) -> dict[str, object]:
        """The count as ``summary.json`` rows carry it."""
        return {
            "status": self.status,
            "passed": self.passed,
            "counted": self.counted,
            "label": self.label,
        }


def task_count(task: TaskResult) -> TaskCount:
    """The count of one task (see the module docstring for what counts)."""
    if task.status == "missing":
        return TaskCount(task.id, "missing", 0, 0)
    counted = [c for c in task.checks if counts(c)]
    correctness = [c for c in counted if c.criterion == "completion"]
    return TaskCount(
        id=task.id,
        status=task.status,
        passed=sum(c.passed for c in counted),
        counted=len(counted),
        skipped=sum(c.status == "skip" for c in task.checks),
        inherited=sum(c.inherited for c in task.checks),
        correctness_passed=sum(c.passed for c in correctness),
        correctness=len(correctness),
    )


def task_counts(result: SubmissionResult) -> dict[str, TaskCount]:
    """The count of every code task (written answers are reported as answers)."""
    return {tid: task_count(task) for tid, task in result.code_tasks.items()}


def tasks_line(result: SubmissionResult) -> str:
    """The tasks as the CLI prints them: ``attention:pass 9/9 training:fail 3/4``."""
    return " ".join(f"{c.id}:{c.status} {c.label}" for c in task_counts(result).values())


TRAINING_TASK = "training"
"""The training task's id in every assignment (DESIGN.md fixes it: ``training``)."""


def training_status(result: SubmissionResult) -> str:
    """The training verdict every report states: the training task's status (its count
    includes every check of the runs, so it can fail where the run's own verdict passed),
    the run's verdict when no check of it ran, or ``not run``."""
    task = result.code_tasks.get(TRAINING_TASK)
    if task is not None and task.checks:
        return task.status
    return result.training.status if result.training else "not run"


def task_properties(root: ET.Element, result: SubmissionResult) -> None:
    """Give each task's ``<testsuite>`` under ``root`` the task's status and count as
    ``<properties>``: JUnit counts test cases (skipped and inherited ones included, and one
    failing case for a task not attempted), so the task's own count is stated beside them."""
    by_name = {suite.get("name"): suite for suite in root.iter("testsuite")}
    for tid, count in task_counts(result).items():
        suite = by_name.get(tid)
        if suite is None:
            continue
        properties = ET.Element("properties")
        for name, value in (("task.status", count.status), ("task.checks", count.label)):
            ET.SubElement(properties, "property", name=name, value=value)
        suite.insert(0, properties)


def task_columns(rows: list[dict[str, object]]) -> list[str]:
    """The task ids of a batch's ``summary.json`` rows, in the order they first appear: the
    batch page's per-task columns."""
    ids: list[str] = []
    for row in rows:
        tasks = row.get("tasks")
        ids += [tid for tid in (tasks if isinstance(tasks, dict) else {}) if tid not in ids]
    return ids
