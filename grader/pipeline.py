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
from dataclasses import replace
from pathlib import Path
from typing import Any

import hypothesis
import torch

from grader import __version__, positional, scoring, timing, training
from grader.answers import find_and_score
from grader.assignment import Assignment, TaskSpec, TrainingSpec
from grader.checks import SUITES, language_model
from grader.checks import mask_source as masks
from grader.checks.base import SuiteContext
from grader.config import GraderConfig
from grader.intake import extract, load_submission, resolve
from grader.intake.tampering import suspected_tampering
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
from grader.trusted import ReferenceUnavailable, start_reference
from reference.data import load_corpus

Progress = Callable[[str], None]
TAMPERING = (
    "Grade withheld (0): the code reaches into the grader's own worker, which no answer needs, "
    "so its verdicts cannot be trusted; review it by hand. In the code the grader runs: "
)

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
) -> SubmissionResult:
    """Grade the submission at ``path``. ``hidden_paths`` are folders the candidate's worker
    must not see even though they lie under a mounted one (the batch's output folder, where
    other candidates' results are)."""
    say = progress or (lambda stage: None)
    started = time.monotonic()
    say("reading")
    sub = load_submission(path)
    if name:
        sub = replace(sub, name=name)
    handout = assignment.handout_source()
    extracted = extract(sub, handout)
    answers = find_and_score(assignment, sub.cells, config.answers)
    resolutions = resolve(extracted, assignment, overrides)
    say("static analysis")
    # The static review reads the candidate's top-level cells too (the worker never runs them).
    quality = analyse_submission(sub, extracted, handout, config.quality)
    attempted = bool(quality.candidate_lines)  # False: the handout as handed out, or no code at all
    errors = list(
        dict.fromkeys([*sub.errors, *extracted.errors, *extracted.load_risks])
    )  # once each, in order
    tampering = suspected_tampering(extracted.source)
    if tampering:
        errors.append(TAMPERING + "; ".join(tampering))
    checks: dict[str, list[CheckResult]] = {}
    training_result: TrainingResult | None = None
    timings = timing.TimingReport((), ("nothing was timed: the code did not run",), None, "none")
    sandbox_info: dict[str, Any] = {}
    if extracted.source.strip() and attempted:
        with Sandbox(
            config.sandbox,
            device=config.device,
            seed=config.seed,
            label=sub.name,
            hidden_paths=tuple(str(p) for p in hidden_paths),
        ) as worker:
            info = worker.info
            sandbox_info = {
                "isolation": info.isolation,
                "network_isolated": info.network_isolated,
                "notes": list(info.notes),
            }
            say("loading in the sandbox")
            report = worker.load(extracted.source)
            if not report.ok:
                errors.append(
                    f"your code failed to load in the sandbox: {report.error.summary() if report.error else 'unknown error'}"
                )
            else:
                checks, training_result, timings = run_checks(
                    worker, assignment, resolutions, report.symbols, config, say
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

    tasks = {
        t.id: task_result(t, resolutions.get(t.id), checks.get(t.id, [])) for t in assignment.tasks
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
    return SubmissionResult(
        submission=sub.info(),
        assignment=assignment.id,
        tasks=tasks,
        training=training_result,
        criteria=criteria,
        overall=0.0 if tampering else scoring.overall(criteria, weights),
        environment=environment(config, training_result, sandbox_info, time.monotonic() - started),
        source=quality.source,
        candidate_lines=tuple(sorted(quality.candidate_lines)),
        timings=timings.timings,
        findings=findings,
        answers=answers,
        intake=intake_summary(sub, extracted, resolutions),
        errors=tuple(errors),
    )


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


def run_checks(
    worker: Any,
    assignment: Assignment,
    resolutions: dict[str, Any],
    symbols: dict[str, Any],
    config: GraderConfig,
    say: Progress,
) -> tuple[dict[str, list[CheckResult]], TrainingResult | None, timing.TimingReport]:
    """Every task's suite, then the training check, then the timings, in one worker."""
    results, source, seq_first = run_suites(worker, assignment, resolutions, symbols, config, say)
    parts = training_parts(resolutions)
    kind = assignment.training.kind if assignment.training else None
    mask = causal_mask(worker, source, assignment)
    # One trusted worker holds the reference for the training baseline and the timings.
    reference = reference_worker(config) if kind == "language_model" else None
    try:
        training_result, training_checks = None, []
        if (
            kind == "positional_dummy"
        ):  # runs without a model too: the candidate's dummy data is checked alone
            say("training")
            training_result, training_checks = positional.run_training(
                worker, assignment, symbols, config, model=parts.get("model")
            )
        elif kind == "language_model" and parts.get("model"):
            say("training")
            training_result, training_checks = run_training(
                worker, assignment, parts, symbols, mask, config, reference, seq_first
            )
        if training_checks:
            results.setdefault("training", []).extend(training_checks)
        say("timing against the reference")
        symbol_of = resolved_symbols(resolutions) | {"training": parts.get("model")}
        # Only correct code is timed: the speed of a wrong result says nothing about optimisation.
        timed = {
            task: symbol_of.get(task) if correct(results.get(task, []), task) else None
            for task in timing.TASKS
        }
        vocab = (
            training_result.vocab_size
            if training_result and training_result.vocab_size
            else timing.PTB_VOCAB
        )
        timings = timing.measure(
            worker,
            assignment,
            timed,
            config,
            mask=mask,
            vocab_size=vocab,
            reference=reference,
            seq_first=seq_first,
        )
    finally:
        if reference is not None:
            reference.close()
    return results, training_result, timings


def reference_worker(config: GraderConfig) -> Sandbox | None:
    """A started reference worker, or None when it cannot start (each stage then tries on
    its own and reports why)."""
    try:
        return start_reference(config)
    except (ReferenceUnavailable, WorkerError):
        return None


def timed_items(assignment: Assignment) -> int:
    """How many items `grader.timing` times for this assignment (0 when it times none)."""
    if not assignment.training or assignment.training.kind != "language_model":
        return 0
    return sum(task.id in timing.TASKS for task in assignment.tasks)


def correct(checks: list[CheckResult], task: str) -> bool:
    """Whether a task's code gives right results: its correctness checks pass (for the
    training task, the model trains on the grader's loop)."""
    relevant = [
        c
        for c in checks
        if (c.name == "training.runs" if task == "training" else c.criterion == "completion")
    ]
    return bool(relevant) and all(c.status in ("pass", "skip") for c in relevant)


def run_suites(
    worker: Any,
    assignment: Assignment,
    resolutions: dict[str, Any],
    symbols: dict[str, Any],
    config: GraderConfig,
    say: Progress,
) -> tuple[dict[str, list[CheckResult]], masks.MaskSource, bool]:
    """The property suites of every task (after finding the candidate's causal mask, which
    the suites share), the mask source they used, and whether the candidate's model is
    seq-first throughout (then graded through a batch-first view)."""
    symbol_of = resolved_symbols(resolutions)
    model = training_parts(resolutions).get("model")
    language = assignment.training is not None and assignment.training.kind == "language_model"
    if language:
        say("finding the causal mask")
        source = find_mask(worker, assignment, resolutions, symbols)
    else:
        source = masks.MaskSource(None, None, "this assignment has no causal mask")
    seq_first = False
    if language and model:
        try:
            seq_first = language_model.is_seq_first(worker, model, source)
        except WorkerError:  # the probe killed the worker: the model's own checks will say why
            worker.restart()
    shared = {"mask_source": source, "symbols": symbols, "seq_first": seq_first}
    results: dict[str, list[CheckResult]] = {}
    for task in assignment.tasks:
        symbol = symbol_of.get(task.id) if task.id != "training" else model
        if task.suite not in SUITES or (symbol is None and task.id != "causal_mask"):
            continue
        if (
            task.id == "causal_mask"
            and symbol is None
            and source.style is None
            and not resolutions[task.id].found
        ):
            continue
        say(f"checking {task.id}")
        ctx = SuiteContext(worker, task, symbol, config, symbols=symbol_of, shared=shared)
        try:
            results[task.id] = SUITES[task.suite](ctx)
        except WorkerError as exc:  # the suite could not start (construction killed the worker)
            results[task.id] = [CheckResult(f"{task.id}.suite", task.id, "error", exc.summary())]
            worker.restart()
        except Exception as exc:  # noqa: BLE001 - one task's failing checks must not lose the rest
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            message = (
                f"the checks of this task could not judge your code ({type(exc).__name__}: {first})"
            )
            results[task.id] = [CheckResult(f"{task.id}.suite", task.id, "error", message)]
    return results, source, seq_first


def resolved_symbols(resolutions: dict[str, Any]) -> dict[str, str | None]:
    """Task id -> the candidate's symbol for it (None when missing or built inline)."""
    return {
        task: (r.symbol if r.found and r.resolved_by != "inline" else None)
        for task, r in resolutions.items()
    }


def causal_mask(
    worker: Any, source: masks.MaskSource, assignment: Assignment
) -> torch.Tensor | None:
    """The candidate's own causal mask for the training window, or None when they have none
    (or it cannot be built: the checks report why)."""
    if source.style is None or assignment.training is None:
        return None
    try:
        return source.mask(worker, assignment.training.options.get("bptt", 35), torch.float32)
    except WorkerError:
        worker.restart()
        return None


def training_parts(resolutions: dict[str, Any]) -> dict[str, str | None]:
    """The training task's parts: ``model``, ``train`` and ``evaluate`` symbols (or None)."""
    loop = resolutions.get("training")
    parts: dict[str, str | None] = dict(loop.parts) if loop is not None else {}
    if not parts.get("model") and loop is not None and loop.found and loop.resolved_by != "inline":
        parts["model"] = loop.symbol
    return parts


def find_mask(
    worker: Any, assignment: Assignment, resolutions: dict[str, Any], symbols: dict[str, Any]
) -> masks.MaskSource:
    """Where the candidate's causal mask comes from: their mask function, or the masks their
    own train() passes to the model (observed), or nowhere."""
    symbol_of = resolved_symbols(resolutions)
    parts = training_parts(resolutions)
    model_cls, train_fn = parts.get("model"), parts.get("train")
    observe = None
    if train_fn and model_cls and train_fn in symbols and assignment.training:
        observe = lambda: training.observe_masks(
            worker,
            train_fn,
            model_cls,
            symbol_of.get("attention"),
            symbols[train_fn].params,
            assignment.training,
        )
    try:
        return masks.find(worker, symbol_of.get("causal_mask"), symbol_of.get("attention"), observe)
    except WorkerError as exc:
        worker.restart()
        return masks.MaskSource(None, None, f"finding the mask failed: {exc.summary()}")


def run_training(
    worker: Any,
    assignment: Assignment,
    parts: dict[str, str | None],
    symbols: dict[str, Any],
    mask: torch.Tensor | None,
    config: GraderConfig,
    reference: Sandbox | None = None,
    seq_first: bool = False,
) -> tuple[TrainingResult, list[CheckResult]]:
    """The language-model training check: the grader's loop on the candidate's model, their own
    loop, and the reference baseline (in ``reference``, a trusted worker, when given); ``mask``
    is the candidate's causal mask for the window, in their convention."""
    spec = assignment.training
    assert spec is not None
    corpus = load_corpus(config.data_dir, config.splits)
    runs = []
    try:
        worker.run("reseed", config.seed)
        model = training.new_model(worker, parts["model"], corpus.vocab_size, spec)
        if seq_first:
            model = worker.run("batch_first_view", model)  # our loop is batch-first
        runs.append(
            training.train_and_measure(worker, model, corpus, spec, config, mask, "reference_loop")
        )
    except WorkerError as exc:
        runs.append(
            training.TrainingRun(
                "reference_loop", "error", f"building your model failed: {exc.summary()}"
            )
        )
        worker.restart()
    if not worker.alive:  # the run killed it (a timeout, a crash): the next runs need one
        worker.restart()
    observations: list[str] = []
    train_fn = parts.get("train")
    if train_fn and train_fn in symbols:
        try:
            worker.run("reseed", config.seed)
            run, observations = training.candidate_loop(
                worker,
                spec,
                {"model": parts["model"], "train": train_fn},
                symbols[train_fn].params,
                corpus,
                config,
                mask,
                seq_first,
            )
            runs.append(run)
        except WorkerError as exc:
            runs.append(
                training.TrainingRun(
                    "candidate_loop",
                    "error",
                    f"your {train_fn}() could not be run: {exc.summary()}",
                )
            )
            worker.restart()
    runs.append(training.reference_baseline(corpus, spec, config, reference))
    checks = training.checks_from_runs(
        "training", runs, observations, corpus.unigram_entropy, config
    )
    if train_fn and train_fn in symbols:
        checks += loop_checks(worker, parts, symbols, spec)
    return training.result(runs, corpus, config), checks


def loop_checks(
    worker: Any, parts: dict[str, str | None], symbols: dict[str, Any], spec: TrainingSpec
) -> list[CheckResult]:
    """``training.targets_aligned`` and ``training.modes``: their train() on a stream whose
    next tokens are known, with what reached the loss compared with what should have
    (`training.targets_check`), and the model's mode in their train() and evaluate()."""
    model, train_fn, eval_fn = parts["model"], parts["train"], parts.get("evaluate")
    assert model is not None and train_fn is not None
    forward = f"{model}.forward"
    evaluated = None
    try:
        worker.run("reseed", 0)
        probe = training.probe_loop(
            worker, train_fn, model, symbols[train_fn].params, spec, (forward,)
        )
        targets = training.targets_check(probe, forward, train_fn)
        if eval_fn and eval_fn in symbols:
            evaluated = training.evaluate_modes(
                worker, eval_fn, model, symbols[eval_fn].params, spec
            )
        modes = training.modes_check(probe, evaluated, train_fn, eval_fn)
    except WorkerError as exc:
        skipped = f"your {train_fn}() could not be probed: {exc.summary()}"
        targets = modes = ("skip", skipped)
        worker.restart()
    return [
        CheckResult("training.targets_aligned", "training", *targets),
        CheckResult("training.modes", "training", *modes),
    ]


def task_result(task: TaskSpec, resolution: Any, checks: list[CheckResult]) -> TaskResult:
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
        note=resolution.message if resolution is not None else "",
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
