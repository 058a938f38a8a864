"""The overall grade, calibrated against a careful interviewer's ranking (issue 17).

The four criteria average each other out: before this stage a model that reads future tokens
or whose training fails lost 5-8 points against a correct submission, and clean code that
does not work outscored working code on the quality criteria. Two rules fix the order:

- **Critical flags** (`critical_flags`): the model reads the future, the training task fails
  or crashes, a task is missing. When the candidate's own code raises one, the overall grade
  is capped at ``CalibrationConfig.critical_cap``: as graded, or as written, when a task
  graded in isolation passes only with a correct part in place of a broken one (the model
  as handed in still reads the future or fails training, `TaskResult.as_written`). Failures inherited from the handout's
  untouched code are flagged (the verdict names them) but do not cap: they do not fail their
  task either (`grader.authorship`).
- **Quality follows correctness**: optimisation, reusability and readability count in the
  overall grade multiplied by the share of the code tasks' checks that passed (weighted as
  in completion), so they cannot lift broken work above working work.

A pure function of a result: nothing here runs candidate code. The criteria keep their own
scores (the cards show what was measured); ``overall`` and ``overall_note`` say how they
were combined.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from grader.config import CalibrationConfig
from grader.result import CheckResult, SubmissionResult
from grader.settings import is_smoke, of_result
from grader.task_counts import TRAINING_TASK, training_status

CAPPING = ("reads_future", "does_not_train", "loop_crash", "task_missing")
"""The flags that cap the grade when the candidate's own code raises them."""


@dataclass(frozen=True)
class Flag:
    """A critical fact about a submission: shown first in every verdict, as a badge in the
    batch page, and (when the candidate's own) capping the grade."""

    id: str
    """``not_gradable``, ``tampering``, ``smoke``, ``reads_future``, ``does_not_train``,
    ``loop_crash`` or ``task_missing``."""
    label: str
    """The flag in two or three words (the badge)."""
    detail: str
    """What was seen, in one sentence."""
    check: str | None = None
    """The check that shows it, when one does (the scorecard's anchor ``check-<name>``)."""
    own: bool = True
    """False when it lies in the handout's untouched code (inherited: named, not capping)."""

    @property
    def caps(self) -> bool:
        return self.own and self.id in CAPPING


def first_sentence(text: str, limit: int = 240) -> str:
    """The sentence of a check's message that carries its verdict: the first one, or what
    follows "; but " (a training verdict states the numbers first, then what is wrong),
    cut at ``limit`` characters."""
    text = " ".join(text.split())
    if "; but " in text:
        text = text.split("; but ", 1)[1]
    cut = text.find(". ")
    if 0 < cut < limit:
        return text[:cut]
    text = text.rstrip(". ")  # the sentences it goes into end themselves
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def failing(check: CheckResult) -> bool:
    return check.status in ("fail", "error")


def critical_flags(
    result: SubmissionResult, config: CalibrationConfig | None = None
) -> tuple[Flag, ...]:
    """Every critical flag of ``result``, most serious first."""
    config = config or CalibrationConfig()
    flags: list[Flag] = []
    if result.status == "not_gradable":
        flags.append(Flag("not_gradable", "not gradable", first_sentence(result.reason)))
    tampering = _tampering(result)
    if tampering:
        flags.append(Flag("tampering", "suspected tampering", first_sentence(tampering)))
    if is_smoke(of_result(result)):
        flags.append(Flag("smoke", "smoke budget", "graded at the smoke budget: not a grade"))
    if result.status == "not_gradable":
        return tuple(flags)
    # A task graded in isolation passes on its own code, but the submission as handed in
    # runs through the broken part: a model that reads the future or cannot train as written
    # is as fatal as one whose own code does (its `as_written` checks say so).
    checks = [c for t in result.code_tasks.values() for c in (*t.checks, *t.as_written)]
    # A causality check that errors says the code does not run, not that it leaks.
    future = [c for c in checks if c.status == "fail" and _about_the_future(c, config)]
    flags += _by_owner(future, "reads_future", "reads the future")
    training = result.code_tasks.get(TRAINING_TASK)
    runs = (*training.checks, *training.as_written) if training else ()
    crashes = [c for c in runs if c.status == "error"]
    flags += _by_owner(crashes, "loop_crash", "crashes in training")
    if training is not None and training_status(result) == "fail":
        worst = key_failure(training.checks, config)
        detail = first_sentence(worst.message) if worst else ""
        flags.append(
            Flag("does_not_train", "training fails", detail, worst.name if worst else None)
        )
    elif training is not None:
        # Its own code trains; as written, through a broken part, it may not (a leak is
        # already flagged above).
        written = tuple(c for c in training.as_written if not _about_the_future(c, config))
        worst = key_failure(written, config)
        if worst:
            flags.append(
                Flag(
                    "does_not_train",
                    "training fails as written",
                    first_sentence(worst.message),
                    worst.name,
                )
            )
    missing = [t.title for t in result.code_tasks.values() if t.status == "missing"]
    if missing:
        flags.append(Flag("task_missing", "task missing", "not attempted: " + "; ".join(missing)))
    return tuple(flags)


def _about_the_future(check: CheckResult, config: CalibrationConfig) -> bool:
    """Its failure means the model reads future tokens (`CalibrationConfig.future_checks`)."""
    return check.name.split(".", 1)[-1] in config.future_checks


def _by_owner(checks: list[CheckResult], flag: str, label: str) -> list[Flag]:
    """One flag for the candidate's own ``checks`` and one for those inherited from the
    handout, each naming the first of its checks (none for an owner without any)."""
    flags = []
    for own in (True, False):
        seen = [c for c in checks if c.inherited != own]
        if seen:
            flags.append(Flag(flag, label, first_sentence(seen[0].message), seen[0].name, own))
    return flags


def key_failure(
    checks: tuple[CheckResult, ...], config: CalibrationConfig | None = None
) -> CheckResult | None:
    """The single most important failing check the candidate is answerable for: a future
    leak first, then a correctness failure before a generality one, an error (the code
    could not run) before a wrong value, then the order the checks ran in."""
    config = config or CalibrationConfig()
    own = [c for c in checks if failing(c) and not c.inherited]
    if not own:
        return None
    return min(
        own,
        key=lambda c: (
            not _about_the_future(c, config),
            c.criterion != "completion",
            c.status != "error",
            checks.index(c),
        ),
    )


def correct_share(result: SubmissionResult) -> float:
    """The code tasks' weighted share of checks passed (the completion criterion without the
    written answers and the handout's flaws)."""
    tasks = list(result.code_tasks.values())
    total = sum(t.weight for t in tasks)
    return sum(t.weight * t.score for t in tasks) / total if total else 0.0


def calibrated(
    result: SubmissionResult, weights: dict[str, float], config: CalibrationConfig
) -> SubmissionResult:
    """``result`` with its overall grade combined by the rules of the module docstring, and
    ``overall_note`` saying what they changed. A withheld (0) or missing grade is kept."""
    if not result.overall or not result.criteria:
        return result
    share = correct_share(result)
    total = sum(weights.get(name, 0.0) for name in result.criteria)
    if not total:
        return result
    scaled = sum(
        c.score * weights.get(name, 0.0) * (share if name in config.quality_criteria else 1.0)
        for name, c in result.criteria.items()
    )
    overall = round(scaled / total, 1)
    notes = []
    if share < 1.0:
        notes.append(
            f"Optimisation, reusability and readability count at {share:.0%}, the share of "
            "the tasks' checks that passed: clean code that does not work cannot outrank "
            "working code."
        )
    capping = [f for f in critical_flags(result, config) if f.caps]
    if capping and overall > config.critical_cap:
        notes.append(
            f"Capped at {config.critical_cap:g} (the criteria give {overall:g}): "
            + "; ".join(f.label for f in capping)
            + "."
        )
        overall = config.critical_cap
    return replace(result, overall=overall, overall_note=" ".join(notes))


TAMPERING_PREFIX = "Grade withheld"
"""How `grader.pipeline.TAMPERING`, the error of a submission suspected of tampering, begins
(the pipeline is not imported here: reports are rendered without it)."""


def _tampering(result: SubmissionResult) -> str:
    return next((e for e in result.errors if e.startswith(TAMPERING_PREFIX)), "")
