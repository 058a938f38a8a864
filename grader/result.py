"""The result types every stage of the grader produces and the report consumes.

One type, `CheckResult`, is shared by every check: property checks, the training check,
the notebook and static findings all end up as `CheckResult`s or `Finding`s attached to a
task or a criterion. `SubmissionResult` is what `result.json` holds; the scorecard is
rendered from that file alone, so everything the report shows must live here.

All types are frozen dataclasses that convert to and from plain JSON data
(`to_dict` / `from_dict`), so a result can be written, read back and re-rendered.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = "1.1"
"""1.1 added ``status`` and ``reason``, and ``overall`` may be null (not gradable); 1.0
results read as graded."""

ResultStatus = Literal["graded", "not_gradable"]
CheckStatus = Literal["pass", "fail", "error", "skip"]
TaskStatus = Literal["pass", "fail", "error", "missing"]
Severity = Literal["info", "minor", "major"]
Authorship = Literal["candidate", "handout", "changed"]
"""Who wrote the lines that cause a failure or a finding (`grader.authorship`): ``candidate``
(lines the candidate wrote), ``handout`` (the handout's lines, untouched: inherited from the
handout) or ``changed`` (the handout's lines as the candidate changed them)."""
AUTHORSHIP_WORDS = {
    "handout": "inherited from the handout",
    "changed": "in handout code the candidate changed",
    "candidate": "in the candidate's own code",
}
"""`Authorship` in the words every report uses."""
TrapStatus = Literal["fixed", "kept", "worse", "not judged"]
QUESTION_TASK = "question:"
"""Prefix of the task ids of written answers (``question:<id>``, DESIGN.md)."""


def is_question_task(task_id: str) -> bool:
    """Whether ``task_id`` is a written answer's task (scored through ``answers``)."""
    return task_id.startswith(QUESTION_TASK)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one named check (a property, a training verdict, a probe)."""

    name: str
    """Stable id of the check, e.g. ``attention.matches_reference``."""
    task: str
    """Task id the check belongs to, e.g. ``attention`` or ``training``."""
    status: CheckStatus
    """``pass``, ``fail`` (the property is false), ``error`` (the candidate's code raised,
    hung or crashed) or ``skip`` (the check does not apply, with the reason in message)."""
    message: str
    """One or two sentences a candidate understands: what was checked and, on failure, what
    went wrong and the likely cause."""
    counterexample: dict[str, Any] | None = None
    """The shrunk failing example in plain values: shapes, dtype, the position that leaked,
    the maximum difference, the tolerance used. ``None`` when the check passed."""
    criterion: str = "completion"
    """Which criterion the check informs: ``completion`` for correctness properties,
    ``reusability`` for generality (other sizes, defaults, lengths)."""
    examples: int = 0
    """How many Hypothesis examples (or probes) the check ran."""
    duration_s: float = 0.0
    """Wall time the check took, in seconds."""
    authorship: Authorship | None = None
    """For a failing check: who wrote the lines that make it fail (`Authorship`). A check
    whose cause is the handout's untouched code (``handout``) is shown but does not fail its
    task. None when it passed or nobody could be named (results written before this field)."""

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def inherited(self) -> bool:
        """It fails only because of the handout's untouched code: shown, not counted."""
        return self.authorship == "handout" and self.status in ("fail", "error")


@dataclass(frozen=True)
class Finding:
    """A static or behavioural observation anchored (where possible) to the candidate's code."""

    rule: str
    """Stable id, e.g. ``opt.to-device-discarded`` or ``ruff.N802``."""
    criterion: str
    """``optimisation``, ``reusability``, ``readability`` or ``notebook``."""
    message: str
    """What was seen and why it matters, in one or two sentences."""
    line: int | None = None
    """1-based line in the candidate's extracted source (``SubmissionResult.source``)."""
    severity: Severity = "minor"
    """``info`` costs nothing, ``minor`` and ``major`` cost the points the configuration sets."""
    symbol: str | None = None
    """The function or class the finding is in, when known."""
    where: str | None = None
    """The same line in the file as handed in, as the candidate would look for it: ``line 99``
    for text formats, ``cell 5, line 3`` for notebooks (0-based cells); None when unknown."""
    authorship: Authorship | None = None
    """Who wrote the line the finding is on (`Authorship`); None when it has no line."""


@dataclass(frozen=True)
class TaskResult:
    """How one task of the assignment was graded."""

    id: str
    """Task id from the assignment, e.g. ``multi_head_attention``."""
    title: str
    """Human title of the task."""
    status: TaskStatus
    """``pass`` (every check passed), ``fail`` (some failed), ``error`` (the code could not be
    run), ``missing`` (no symbol found: not attempted)."""
    score: float
    """Share of the task's checks passed, 0..1 (0 when missing)."""
    symbol: str | None
    """The candidate's symbol that was graded, e.g. ``MultiHeadSelfAttention``."""
    resolved_by: str | None
    """How the symbol was found: ``name``, ``alias``, ``override``, ``observed`` (seen at run
    time, e.g. a mask built inline) or ``None`` when missing."""
    checks: tuple[CheckResult, ...] = ()
    """The checks run for this task, in order."""
    weight: float = 1.0
    """Weight of the task in the completion criterion."""
    note: str = ""
    """Anything else the reader must know (e.g. the mask convention identified, or that the
    task was graded with a stand-in for a part it calls that fails)."""
    as_written: tuple[CheckResult, ...] = ()
    """For a task graded in isolation: the checks that fail only as written (through another
    task's broken part) and pass with a correct one in its place; they do not count."""


@dataclass(frozen=True)
class CurvePoint:
    """One logging step of a training run."""

    step: int
    """Optimiser steps done when the point was taken."""
    train_loss: float | None
    """Mean training loss since the previous point (nats/token), as measured by the grader."""
    val_loss: float | None
    """Validation loss (nats/token) the grader computed from the logits the worker returned."""


@dataclass(frozen=True)
class TrainingRun:
    """One training run: who drove it, on what, and what came of it."""

    driver: str
    """``reference_loop`` (our loop, the candidate's model) or ``candidate_loop`` (their
    ``train()``/``evaluate()``), or ``reference_model`` (our loop and model, the baseline)."""
    status: CheckStatus
    """Verdict of this run."""
    message: str
    """The verdict in plain words, with the numbers."""
    steps: int = 0
    """Optimiser steps completed."""
    val_loss_before: float | None = None
    """Validation loss measured by the grader before training."""
    val_loss_after: float | None = None
    """Validation loss measured by the grader after training."""
    curve: tuple[CurvePoint, ...] = ()
    """Loss per logging step."""
    ms_per_batch: float | None = None
    """Median milliseconds per training batch."""
    tokens_per_s: float | None = None
    """Training throughput."""
    candidate_reported: tuple[str, ...] = ()
    """Losses the candidate's own code printed or returned: shown, never trusted."""
    observations: tuple[str, ...] = ()
    """What reached the model during the loop (e.g. 'no mask passed in 120 of 120 calls')."""


@dataclass(frozen=True)
class TrainingResult:
    """The training check as a whole."""

    status: TaskStatus
    """Overall verdict of the training task."""
    corpus: str
    """Corpus used: ``synthetic``, ``ptb`` (torchtext) or ``ptb-dir:<path>``."""
    splits: tuple[str, ...]
    """Splits used for training and validation, in that order."""
    budget: str
    """``quick``, ``standard`` or ``full``."""
    runs: tuple[TrainingRun, ...] = ()
    """Each run made (candidate model on our loop, candidate loop, reference baseline)."""
    baseline_loss: float | None = None
    """Loss of the best context-free guess (unigram entropy of the training split)."""
    entropy_floor: float | None = None
    """For the synthetic corpus, its true entropy rate (nats/token): no model can beat it."""
    vocab_size: int | None = None
    """Vocabulary size of the corpus."""


@dataclass(frozen=True)
class CriterionScore:
    """One of the four criteria the test names, scored 0..100 with its evidence."""

    name: str
    """``completion``, ``optimisation``, ``reusability`` or ``readability``."""
    score: float
    """0..100."""
    evidence: tuple[str, ...] = ()
    """Each point gained or lost, in words an interviewer can defend to a candidate."""
    findings: tuple[Finding, ...] = ()
    """Findings that moved this score, anchored to lines where possible."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Numbers behind the score (e.g. ruff findings per 100 lines, timing ratios)."""


@dataclass(frozen=True)
class Timing:
    """A timing of the candidate against the reference, measured interleaved in one run."""

    name: str
    """What was timed, e.g. ``attention fwd+bwd (20, 2, 35, 100)``."""
    candidate_ms: float
    """Median milliseconds per call of the candidate's code."""
    reference_ms: float
    """Median milliseconds per call of the reference."""
    candidate_iqr_ms: float = 0.0
    """Inter-quartile range of the candidate's timings."""
    reference_iqr_ms: float = 0.0
    """Inter-quartile range of the reference's timings."""

    @property
    def ratio(self) -> float:
        return self.candidate_ms / self.reference_ms if self.reference_ms > 0 else float("inf")


@dataclass(frozen=True)
class WrittenAnswer:
    """A written answer scored against a rubric: a suggestion for a human to confirm."""

    question: str
    """Question id, e.g. ``attention_cost``."""
    prompt: str
    """The question as the handout asks it."""
    found: bool
    """Whether an answer was found in the submission."""
    score: float
    """Suggested share of rubric points earned, 0..1."""
    points: tuple[dict[str, Any], ...] = ()
    """Each rubric point: ``{"point", "earned", "quote"}``."""
    misconceptions: tuple[dict[str, Any], ...] = ()
    """Each misconception flagged: ``{"id", "message", "quote"}``."""
    answer: str = ""
    """The answer text as found."""
    note: str = ""
    """How the answer was found and what the score means, or why there is none."""


@dataclass(frozen=True)
class TrapOutcome:
    """What a submission did with one flaw the handout carries on purpose (`[[traps]]` of the
    assignment): fixed it, kept it, or changed its lines and still fails."""

    id: str
    """The trap's id in the assignment."""
    title: str
    """The flaw in words."""
    status: TrapStatus
    """``fixed`` (its checks pass), ``kept`` (its lines untouched and its checks fail: the
    failures are inherited from the handout), ``worse`` (the candidate changed its lines and
    its checks still fail: the failures are theirs) or ``not judged`` (its checks did not run)."""
    criterion: str
    """The criterion that credits the fix."""
    credited: bool = False
    """Whether the fix counts in ``criterion`` (the assignment says the trap is part of the test)."""
    checks: tuple[str, ...] = ()
    """The checks that showed it (failing), or that it is fixed (passing)."""
    message: str = ""
    """What was seen, in words."""
    weight: float = 1.0
    """In completion, the fix's weight (as a task's); other criteria charge a missed fix what a
    failed generality check costs."""


@dataclass(frozen=True)
class SubmissionInfo:
    """Where the submission came from."""

    path: str
    """Path as given on the command line."""
    name: str
    """Short name used for the output folder."""
    format: str
    """Detected format: ``ipynb``, ``py``, ``py-percent``, ``markdown``, ``notebook-text``."""
    sha256: str
    """Hash of the file's bytes."""
    size_bytes: int = 0
    """Size of the file."""


@dataclass(frozen=True)
class SubmissionResult:
    """Everything known about one graded submission: the content of ``result.json``."""

    submission: SubmissionInfo
    """The file graded."""
    assignment: str
    """Assignment id."""
    tasks: dict[str, TaskResult]
    """Per task id."""
    training: TrainingResult | None
    """The training check, when the assignment has one and it ran."""
    criteria: dict[str, CriterionScore]
    """``completion``, ``optimisation``, ``reusability``, ``readability``."""
    overall: float | None
    """Weighted overall grade, 0..100; None when the submission is not gradable."""
    environment: dict[str, Any]
    """Versions, seeds, budget, device, corpus, sandbox status: what reproduces the grade."""
    source: str = ""
    """The candidate's code as extracted (the lines the findings point at)."""
    candidate_lines: tuple[int, ...] = ()
    """1-based lines of ``source`` the candidate wrote (not in the handout)."""
    findings: tuple[Finding, ...] = ()
    """All findings (static, notebook facts), including those not tied to a criterion score."""
    timings: tuple[Timing, ...] = ()
    """Interleaved timings against the reference."""
    answers: tuple[WrittenAnswer, ...] = ()
    """Written answers, scored as suggestions (also in ``tasks`` as ``question:<id>``)."""
    traps: tuple[TrapOutcome, ...] = ()
    """The handout's deliberate flaws, and what this submission did with each."""
    intake: dict[str, Any] = field(default_factory=dict)
    """What intake did: skipped statements and why, notebook facts, symbols resolved."""
    errors: tuple[str, ...] = ()
    """Problems with the submission as a whole (unreadable file, worker could not start)."""
    status: ResultStatus = "graded"
    """``graded``, or ``not_gradable`` when nothing of the submission could be judged (it
    could not be read, unpacked, loaded, or none of its tasks was found): then ``overall``
    is None, ``reason`` says why, and the batch lists it apart from the ranking (see
    `grader.gradable`). Results written before 1.1 have no status and read as graded."""
    reason: str = ""
    """Why the submission is not gradable, in one sentence; empty when graded."""
    overall_note: str = ""
    """How ``overall`` departs from the criteria's weighted mean (`grader.calibration`): a cap
    for a critical failure, quality counted at the share of the work that is correct."""
    schema: str = SCHEMA_VERSION
    """Version of this layout."""

    @property
    def gradable(self) -> bool:
        """Whether the result carries a grade (``overall`` is a number)."""
        return self.status != "not_gradable" and self.overall is not None

    @property
    def code_tasks(self) -> dict[str, TaskResult]:
        """The tasks without the written answers' (``question:<id>``), which the reports show
        with the answers."""
        return {k: t for k, t in self.tasks.items() if not is_question_task(k)}

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        return from_jsonable(cls, data)


# --- JSON conversion -------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, tuples and dicts into plain JSON data (floats stay floats;
    NaN and inf become strings so the JSON stays strict)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, SubmissionResult):
            out = {"schema": out.pop("schema"), "status": out.pop("status"), **out}
        return out
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def from_jsonable(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` from plain JSON data (the inverse of `to_jsonable`)."""
    if data is None:
        return None
    if isinstance(tp, str):
        tp = _resolve(tp)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: from_jsonable(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data
        }
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_jsonable(args[0], data) if len(args) == 1 else data
    if origin is tuple:
        (item, *_rest) = typing.get_args(tp)
        return tuple(from_jsonable(item, v) for v in data)
    if origin is dict:
        _key, item = typing.get_args(tp)
        return {k: from_jsonable(item, v) for k, v in data.items()}
    if tp is float and isinstance(data, str):
        return float(data)
    return data


def _resolve(name: str) -> Any:
    return typing.get_type_hints(SubmissionResult, globals())[name]
