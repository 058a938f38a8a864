"""Grade one submission from end to end: read, extract, resolve, check, train, score.

This is the only module that strings the stages together; each stage stays ignorant of the
others. Candidate code runs only in the sandboxed worker; everything judged here is a value
that came out of it.
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import hypothesis
import torch

from grader import __version__, authorship, kinds, scoring, stand_ins, timing
from grader.answers import find_and_score
from grader.answers.tasks import question_tasks
from grader.assignment import Assignment, TaskSpec
from grader.calibration import calibrated
from grader.checks.base import SuiteContext
from grader.config import GraderConfig
from grader.early import EarlyStart
from grader.gradable import decide
from grader.intake import extract, resolve
from grader.intake.tampering import suspected_tampering
from grader.intake.units import load_unit
from grader.quality import analyse_submission, readability_score
from grader.result import (
    CheckResult,
    CriterionScore,
    SubmissionInfo,
    SubmissionResult,
    TaskResult,
    TrainingResult,
)
from grader.sandbox import CandidateError, Sandbox, WorkerError
from grader.stages import Stages
from grader.trusted import LazyReference, ordered

Progress = Callable[[str], None]
TAMPERING = (
    "Grade withheld (0): the code reaches into the grader's own worker, which no answer needs, "
    "so its verdicts cannot be trusted; review it by hand. In the code the grader runs: "
)

NOT_TIMED = timing.TimingReport((), ("nothing was timed: the code did not run",), None, "none")

NOTHING_TO_ASSESS = "nothing to assess: the submission has no code of the candidate's own (no line differs from the handout)"
NOT_ATTEMPTED = "not attempted: no line of the submission differs from the handout."


def grade_submission(
    path: Path,
    assignment: Assignment,
    config: GraderConfig,
    *,
    overrides: dict[str, str] | None = None,
    progress: Progress | None = None,
    name: str | None = None,
    hidden_paths: tuple[Path, ...] = (),
    stages: Stages | None = None,
) -> SubmissionResult:
    """Grade the submission at ``path``. ``hidden_paths`` are folders the candidate's worker
    must not see even though they lie under a mounted one (the batch's output folder, where
    other candidates' results are). ``stages`` records the seconds of each stage (every
    ``progress`` call starts one; `grader.stages`)."""
    stages = stages if stages is not None else Stages()
    say = stages.progress(progress)
    started = time.monotonic()
    say("reading")
    sub = load_unit(path, assignment, config.intake)  # a file, a folder or an archive
    if name:
        sub = replace(sub, name=name)
    handout = assignment.handout_source()
    extracted = extract(sub, handout)
    answers = find_and_score(assignment, sub.cells, config.answers)
    resolutions = resolve(extracted, assignment, overrides)
    # The worker starts (seconds of waiting on its interpreter) while the code is reviewed.
    candidate = (
        EarlyStart(
            lambda: start_sandbox(
                Sandbox(
                    config.sandbox,
                    device=config.device,
                    seed=config.seed,
                    label=sub.name,
                    hidden_paths=tuple(str(p) for p in hidden_paths),
                )
            ),
            Sandbox.close,
            name="worker-start",
            hold=lambda worker: worker.alive,
        )
        if extracted.source.strip()
        else None
    )
    say("static analysis")
    try:
        # The static review reads the candidate's top-level cells too (the worker never runs them).
        quality = analyse_submission(sub, extracted, handout, config.quality)
    except BaseException:
        if candidate is not None:
            candidate.drop()
        raise
    attempted = bool(quality.candidate_lines)  # False: the handout as handed out, or no code at all
    errors = list(
        dict.fromkeys([*sub.errors, *extracted.errors, *extracted.load_risks])
    )  # once each, in order
    tampering = suspected_tampering(extracted.source, sub.modules)  # helpers run there too
    if tampering:
        errors.append(TAMPERING + "; ".join(tampering))
    checked = Checked()
    sandbox_info: dict[str, Any] = {}
    reference = reference_for(assignment, config)
    if candidate is not None and attempted:
        reference.prestart()  # the reference's worker starts alongside the candidate's
        say("starting the sandbox")
        with closing(taken(candidate, reference)) as worker:
            stages.add("starting the sandbox", candidate.seconds or 0.0, background=True)
            info = worker.info
            sandbox_info = {
                "isolation": info.isolation,
                "network_isolated": info.network_isolated,
                "notes": list(info.notes),
            }
            say("loading in the sandbox")
            report = worker.load(extracted.source, modules=sub.modules)
            if not report.ok:
                errors.append(
                    f"your code failed to load in the sandbox: {report.error.summary() if report.error else 'unknown error'}"
                )
            else:
                try:
                    run_checks(
                        worker,
                        assignment,
                        resolutions,
                        report.symbols,
                        config,
                        say,
                        checked,
                        reference=reference,
                    )
                except WorkerError as exc:  # the submission's time ran out, or a restart failed
                    errors.append(
                        f"grading stopped early: {exc.summary()}. The verdicts gathered until "
                        "then are kept; the checks after that point did not run"
                    )
            # What the candidate's code tried that the worker's audit hook refused (file,
            # network, process), without what importing the libraries always does.
            refused = [e for e in sorted(set(worker.audit_events)) if not import_noise(e)]
            sandbox_info["audit_events"] = refused[:50]
            if refused:
                shown = "; ".join(refused[:5]) + (" ..." if len(refused) > 5 else "")
                errors.append(f"The sandbox refused what the code tried ({len(refused)}): {shown}")
    elif not extracted.source.strip():
        errors.append(no_code_message(extracted))
    if candidate is not None and not attempted:
        candidate.drop()  # the handout came back unchanged: nothing of theirs to run
    reference.close()

    say("scoring")
    for stage, seconds in checked.background.items():
        stages.add(stage, seconds, background=True)
    checks, training_result, timings = checked.results, checked.training, checked.timings
    tasks = {
        t.id: task_result(
            t, resolutions.get(t.id), checks.get(t.id, []), checked.isolation.get(t.id)
        )
        for t in assignment.tasks
    }
    if (
        not attempted
    ):  # nothing of the candidate's to judge: no task attempted, no code criterion earned
        tasks = {
            tid: replace(t, status="missing", score=0.0, note=f"{NOT_ATTEMPTED} {t.note}".strip())
            for tid, t in tasks.items()
        }
    findings = (*quality.findings, *extracted.facts)
    criteria = {
        "completion": scoring.completion(
            tasks.values(), answers, {q.id: q.weight for q in assignment.questions}
        )
    }
    if attempted:
        all_checks = [c for cs in checks.values() for c in cs]
        readability, readability_evidence = readability_score(quality, config.quality)
        criteria |= {
            "optimisation": scoring.optimisation(
                timings.timings,
                findings,
                config.timing,
                timings.evidence,
                timed_items(assignment),
                config.quality,
            ),
            "reusability": scoring.reusability(
                all_checks, findings, config.scoring.failed_generality_cost, config.quality
            ),
            "readability": CriterionScore(
                "readability",
                readability,
                tuple(readability_evidence),
                tuple(f for f in findings if f.criterion == "readability"),
                metrics=quality.metrics,
            ),
        }
    else:
        criteria |= {
            name: CriterionScore(name, 0.0, (NOTHING_TO_ASSESS,))
            for name in ("optimisation", "reusability", "readability")
        }
    weights = assignment.criterion_weights or config.scoring.criterion_weights
    stages.stop()
    result = SubmissionResult(
        submission=sub.info(),
        assignment=assignment.id,
        tasks=tasks | question_tasks(answers, assignment, config.answers),
        training=training_result,
        criteria=criteria,
        overall=0.0 if tampering else scoring.overall(criteria, weights),
        environment=environment(config, training_result, sandbox_info, time.monotonic() - started)
        | stages.as_dict(),
        source=quality.source,
        candidate_lines=tuple(sorted(quality.candidate_lines)),
        timings=timings.timings,
        findings=findings,
        answers=answers,
        intake=intake_summary(sub, extracted, resolutions),
        errors=tuple(errors),
    )
    result = authorship.judged(result, assignment, config, withheld=bool(tampering))
    result = calibrated(result, weights, config.calibration)  # ranks as an interviewer would
    return decide(result)  # not gradable when nothing of it could be judged


def start_sandbox(worker: Sandbox) -> Sandbox:
    """``worker``, started (`EarlyStart` runs this in the background)."""
    worker.start()
    return worker


def taken(candidate: EarlyStart[Sandbox], reference: LazyReference) -> Sandbox:
    """The candidate's started worker; when it could not start, the reference's (started
    alongside) is closed before the error goes on."""
    try:
        return candidate.take()
    except BaseException:
        reference.close()
        raise


def import_noise(event: str) -> bool:
    """An audit event every submission causes by importing its libraries: Python writing a
    ``__pycache__`` next to them (the venv is read-only), and urllib3 (imported with
    torchtext) opening an IPv6 socket to test for support, without connecting."""
    return "__pycache__" in event or event == "socket.__new__ (AF_INET6)"


def no_code_message(extracted: Any) -> str:
    """Why nothing could run: no code at all, or code that does not parse (where)."""
    if not extracted.syntax_errors:
        return "no Python code was found in the submission"
    where = "; ".join(
        f"cell {e.cell}{f' line {e.line}' if e.line else ''}: {e.message}"
        for e in extracted.syntax_errors[:3]
    )
    return f"no code could be run: every code cell with definitions has a syntax error ({where})"


@dataclass
class Checked:
    """What the checks found, filled in as they run, so that a submission whose time runs out
    keeps the verdicts gathered until then."""

    results: dict[str, list[CheckResult]] = field(default_factory=dict)
    """Task id -> its checks (in isolation, for a task graded with stand-ins)."""
    training: TrainingResult | None = None
    """The first training task's runs."""
    timings: timing.TimingReport = NOT_TIMED
    """The timings against the reference."""
    isolation: dict[str, tuple[tuple[CheckResult, ...], str]] = field(default_factory=dict)
    """Task id -> (the checks that fail only as written, the note), for tasks graded with
    stand-ins (`grader.stand_ins`)."""
    background: dict[str, float] = field(default_factory=dict)
    """Seconds of work the kinds did alongside (``shared["background"]``), for `Stages`."""


def run_checks(
    worker: Any,
    assignment: Assignment,
    resolutions: dict[str, Any],
    symbols: dict[str, Any],
    config: GraderConfig,
    say: Progress,
    checked: Checked | None = None,
    reference: LazyReference | None = None,
) -> Checked:
    """Every task's checks, then the training checks, then the timings, in one worker; the
    kinds (`grader.kinds`) do the work, this only calls their hooks in order. ``checked`` is
    filled in as they go; ``reference`` (closed here) may have been started early."""
    checked = checked if checked is not None else Checked()
    results = checked.results
    reference = reference or reference_for(assignment, config)
    try:
        _, runs = run_suites(
            worker, assignment, resolutions, symbols, config, say, reference, results
        )
        checked.isolation = (
            {
                task: (only, note)
                for task, (_, only, note) in runs[0].shared.get("isolated", {}).items()
            }
            if runs
            else {}
        )
        for run in runs:
            kind = kinds.get(run.task.kind)
            if not kind.trains:
                continue
            say(f"running the training check of {run.task.id}")
            parts = stand_ins.culprits(run, runs, results)

            def train(run: SuiteContext = run, kind: kinds.Kind = kind, parts: list = parts) -> Any:
                if not parts:
                    return kind.train(run)
                with stand_ins.standing_in(run, parts):  # their model, with correct parts
                    return kind.train(run)

            trained = guarded(run, train)
            if isinstance(trained, list):  # the hook failed: its error is the task's check
                results.setdefault(run.task.id, []).extend(trained)
            elif trained is not None:
                results.setdefault(run.task.id, []).extend(trained.checks)
                checked.training = checked.training or trained.result
        checked.background = runs[0].shared.get("background", {}) if runs else {}
        say("timing against the reference")
        checked.timings = time_tasks(worker, runs, results, config, reference)
        for check in checked.timings.checks:  # output wrong while timed: the task's own failure
            results.setdefault(check.task, []).append(check)
    finally:
        reference.close()
    return checked


def reference_for(assignment: Assignment, config: GraderConfig) -> LazyReference:
    """The submission's trusted reference worker (started on first use): the modules of the
    project's reference package the assignment's kinds need, and its own ``reference.py``."""
    modules = {m for t in assignment.tasks for m in kinds.get(t.kind).reference_modules}
    solution = assignment.reference_source() if assignment.reference_file else None
    return LazyReference(config, ordered(modules), solution)


def timed_items(assignment: Assignment) -> int:
    """How many items the assignment's kinds time (0 when it times none)."""
    return sum(kinds.get(task.kind).timed for task in assignment.tasks)


def time_tasks(
    worker: Any,
    runs: list[SuiteContext],
    results: dict[str, list[CheckResult]],
    config: GraderConfig,
    reference: LazyReference,
) -> timing.TimingReport:
    """Time every timed task whose code is right (a wrong result's speed says nothing)."""
    items: list[tuple[str, timing.Builder | None]] = []
    isolated = runs[0].shared.get("isolated", {}) if runs else {}
    for run in runs:
        kind = kinds.get(run.task.kind)
        if kind.timed:
            # A task graded with stand-ins is not timed: as written it runs the broken part.
            right = (
                run.symbol is not None
                and kind.correct(results.get(run.task.id, []))
                and run.task.id not in isolated
            )
            build = partial(kind.timing_item, run) if right else None
            items.append((run.task.id, build))
    return timing.measure(worker, items, config, reference)


def contexts(
    worker: Any,
    assignment: Assignment,
    resolutions: dict[str, Any],
    symbols: dict[str, Any],
    config: GraderConfig,
    say: Progress,
    reference: LazyReference,
) -> list[SuiteContext]:
    """One context per task, sharing one dict of facts between them."""
    symbol_of = resolved_symbols(resolutions)
    shared: dict[str, Any] = {"symbols": symbols, "resolutions": resolutions}
    return [
        SuiteContext(
            worker,
            task,
            symbol_of.get(task.id),
            config,
            symbols=symbol_of,
            shared=shared,
            assignment=assignment,
            kinds={t.id: t.kind for t in assignment.tasks},
            parts={t: dict(r.parts) for t, r in resolutions.items()},
            reference=reference,
            say=say,
        )
        for task in assignment.tasks
    ]


def run_suites(
    worker: Any,
    assignment: Assignment,
    resolutions: dict[str, Any],
    symbols: dict[str, Any],
    config: GraderConfig,
    say: Progress,
    reference: LazyReference | None = None,
    results: dict[str, list[CheckResult]] | None = None,
) -> tuple[dict[str, list[CheckResult]], list[SuiteContext]]:
    """Every task's ``prepare`` hook, then its checks (filling ``results`` as they go); returns
    the checks by task and the context of each task (for the training and timing hooks)."""
    own = reference is None
    reference = reference or reference_for(assignment, config)
    runs = contexts(worker, assignment, resolutions, symbols, config, say, reference)
    results = results if results is not None else {}
    try:
        for run in runs:
            failed = guarded(run, lambda run=run: prepared(run))
            if isinstance(failed, list):
                results[run.task.id] = failed
        for run in runs:
            kind = kinds.get(run.task.kind)
            if run.task.id in results or (run.symbol is None and not kind.runs_without_symbol):
                continue
            if stand_ins.hangs_through(run, runs):
                results[run.task.id] = []  # every call would hang: graded in isolation only
                continue
            say(f"checking {run.task.id}")
            checks = guarded(run, lambda run=run, kind=kind: kind.check(run))
            if checks:
                results[run.task.id] = checks
        isolate(runs, results, say)
    finally:
        if own:
            reference.close()
    return results, runs


def prepared(run: SuiteContext) -> None:
    """The kind's ``prepare`` hook, its calls held to the per-check limit: a part that hangs
    must cost seconds here too, not the default limit of a long call."""
    limited = getattr(run.worker, "calls_limited", None)
    if limited is None:
        kinds.get(run.task.kind).prepare(run)
        return
    with limited(run.config.sandbox.check_call_timeout_s):
        kinds.get(run.task.kind).prepare(run)


def isolate(runs: list[SuiteContext], results: dict[str, list[CheckResult]], say: Progress) -> None:
    """Grade again, with stand-ins, every task that calls a part that fails or hangs
    (`grader.stand_ins`): its verdict becomes the one in isolation; what failed only as
    written is kept in ``shared["as_written"]`` with the task's note."""
    for run in runs:
        kind = kinds.get(run.task.kind)
        parts = stand_ins.culprits(run, runs, results)
        if not parts or run.task.id not in results:
            continue
        say(f"checking {run.task.id} with a stand-in for {stand_ins.names(parts)}")

        def check(run: SuiteContext = run, kind: kinds.Kind = kind, parts: list = parts) -> Any:
            with stand_ins.standing_in(run, parts):
                return kind.check(run)

        isolated = guarded(run, check)
        written = results[run.task.id]
        results[run.task.id] = isolated
        run.shared.setdefault("isolated", {})[run.task.id] = (
            parts,
            *stand_ins.attributed(written, isolated, parts),
        )


def guarded(run: SuiteContext, hook: Callable[[], Any]) -> Any:
    """``hook()``, or when it fails, the task's one ``<task>.suite`` error check saying why
    (one task's failing checks must not lose the rest)."""
    task = run.task.id
    try:
        return hook()
    except WorkerError as exc:  # the hook could not start (construction killed the worker)
        run.worker.restart()
        return [CheckResult(f"{task}.suite", task, "error", exc.summary())]
    except Exception as exc:  # noqa: BLE001 - one task's failing checks must not lose the rest
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        message = (
            f"the checks of this task could not judge your code ({type(exc).__name__}: {first})"
        )
        return [CheckResult(f"{task}.suite", task, "error", message)]


def resolved_symbols(resolutions: dict[str, Any]) -> dict[str, str | None]:
    """Task id -> the candidate's symbol for it (None when missing or built inline)."""
    return {
        task: (r.symbol if r.found and r.resolved_by != "inline" else None)
        for task, r in resolutions.items()
    }


def task_result(
    task: TaskSpec,
    resolution: Any,
    checks: list[CheckResult],
    isolation: tuple[tuple[CheckResult, ...], str] | None = None,
) -> TaskResult:
    """The task's verdict from its checks (in isolation when it was graded with stand-ins:
    ``isolation`` holds the checks that fail only as written, and the note)."""
    found = resolution is not None and resolution.found
    if found and not checks:
        checks = [
            CheckResult(
                f"{task.id}.suite",
                task.id,
                "error",
                "the checks could not run (the code did not load or a prerequisite is missing)",
            )
        ]
    status = scoring.task_status(checks, found)
    return TaskResult(
        id=task.id,
        title=task.title,
        status=status,
        score=round(scoring.task_score(checks), 4) if found else 0.0,
        symbol=resolution.symbol if found else None,
        resolved_by=resolution.resolved_by if found else None,
        checks=tuple(checks),
        weight=task.weight,
        note="; ".join(
            n
            for n in (
                resolution.message if resolution is not None else "",
                isolation and isolation[1],
            )
            if n
        ),
        as_written=isolation[0] if isolation else (),
    )


def intake_summary(sub: Any, extracted: Any, resolutions: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_notes": list(sub.notes),
        "skipped": [s.__dict__ if hasattr(s, "__dict__") else s for s in extracted.skipped],
        "syntax_errors": [str(e) for e in extracted.syntax_errors],
        "resolutions": {
            k: {"symbol": r.symbol, "resolved_by": r.resolved_by, "message": r.message}
            for k, r in resolutions.items()
        },
    }


def environment(
    config: GraderConfig,
    training_result: TrainingResult | None,
    sandbox: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    return {
        "grader": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "hypothesis": hypothesis.__version__,
        "seed": config.seed,
        "budget": config.budget,
        "device": config.device,
        "corpus": training_result.corpus if training_result else None,
        "splits": list(training_result.splits) if training_result else None,
        "sandbox": sandbox or {"isolation": "not started"},
        "grading_seconds": round(elapsed, 1),
    }


def error_result(
    path: Path, assignment: Assignment, config: GraderConfig, name: str, message: str
) -> SubmissionResult:
    """A result for a submission the grader could not grade at all."""
    data = path.read_bytes() if path.exists() else b""
    info = SubmissionInfo(
        str(path), name, "unreadable", hashlib.sha256(data).hexdigest(), len(data)
    )
    tasks = {
        t.id: TaskResult(t.id, t.title, "error", 0.0, None, None, weight=t.weight)
        for t in assignment.tasks
    }
    criteria = {c: CriterionScore(c, 0.0, ("not graded",)) for c in scoring.CRITERIA}
    return SubmissionResult(
        info,
        assignment.id,
        tasks,
        None,
        criteria,
        0.0,
        environment(config, None, {}, 0.0),
        errors=(message,),
    )


__all__ = ["CandidateError", "error_result", "grade_submission"]
