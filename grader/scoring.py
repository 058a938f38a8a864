"""The four criteria the test names, each 0..100 with the evidence behind every point.

- completion: tasks attempted and passed, weighted per assignment, partial credit from the
  share of a task's correctness checks passed; written answers count here (only here); the
  fixes of the handout's flaws that count here (`grader.traps`);
- optimisation: interleaved timings against the reference in bands, minus static findings;
- reusability: the generality checks (other sizes, lengths, defaults) minus static findings;
- readability: the static readability score computed by `grader.quality`.

Pure functions of results already computed: nothing here runs candidate code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from grader.config import QualityConfig, TimingConfig
from grader.quality import static_penalty
from grader.result import (
    CheckResult,
    CriterionScore,
    Finding,
    TaskResult,
    Timing,
    TrapOutcome,
    WrittenAnswer,
    is_question_task,
)

CRITERIA = ("completion", "optimisation", "reusability", "readability")


def counts(check: CheckResult) -> bool:
    """Whether a check counts towards its task: not skipped, and not failing only because of
    the handout's untouched code (`CheckResult.inherited`: shown, labelled, not counted)."""
    return check.status != "skip" and not check.inherited


def task_score(checks: Sequence[CheckResult]) -> float:
    """Share of the task's correctness checks that passed (skipped and inherited checks do
    not count)."""
    counted = [c for c in checks if c.criterion == "completion" and counts(c)]
    if not counted:  # nothing ran, or only the handout's code fails: nothing of theirs does
        return 1.0 if any(c.inherited for c in checks) else 0.0
    return sum(c.passed for c in counted) / len(counted)


def task_status(checks: Sequence[CheckResult], symbol_found: bool) -> str:
    if not symbol_found:
        return "missing"
    counted = [c for c in checks if counts(c)]
    if counted and all(c.status == "error" for c in counted):
        return "error"
    if not counted and any(c.inherited for c in checks):
        return "pass"  # only the handout's untouched code fails
    return "pass" if counted and all(c.passed for c in counted) else "fail"


def completion(
    tasks: Iterable[TaskResult],
    answers: Iterable[WrittenAnswer],
    answer_weights: dict[str, float],
    traps: Iterable[TrapOutcome] = (),
) -> CriterionScore:
    """Tasks by weight and share of checks passed, written answers by their suggested score
    (once: their ``question:<id>`` tasks are skipped here), and the fixes of the handout's
    traps that count in completion, each an item of its weight earned when fixed."""
    evidence: list[str] = []
    total = earned = 0.0
    for task in tasks:
        if is_question_task(task.id):
            continue  # counted below, from its answer
        total += task.weight
        earned += task.weight * task.score
        if task.status == "missing":
            evidence.append(
                f"{task.title}: not attempted (no {task.id} found) — 0 of {task.weight:g}"
            )
        else:
            evidence.append(completion_line(task))
    for answer in answers:
        weight = answer_weights.get(answer.question, 1.0)
        total += weight
        earned += weight * answer.score
        state = "suggested" if answer.found else "not answered"
        evidence.append(
            f"Written answer {answer.question}: {state} {answer.score:.0%} — {weight * answer.score:.2f} of {weight:g}"
        )
    for trap in traps:
        if trap.criterion != "completion" or not trap.credited:
            continue
        total += trap.weight
        fixed = trap.status == "fixed"
        earned += trap.weight if fixed else 0.0
        state = "fixed" if fixed else f"{trap.status}: a missed fix"
        evidence.append(
            f"Handout flaw {trap.id}: {state} — {trap.weight if fixed else 0:.2f} of {trap.weight:g}"
        )
    score = 100.0 * earned / total if total else 0.0
    return CriterionScore(
        "completion",
        round(score, 1),
        tuple(evidence),
        metrics={"earned": round(earned, 3), "possible": total},
    )


def timing_band(ratio: float, config: TimingConfig) -> float:
    """Score of a candidate/reference time ratio: bands so that noise does not move the grade."""
    for limit, score in config.bands:
        if ratio <= limit:
            return score
    return config.slowest_score


def optimisation(
    timings: Sequence[Timing],
    findings: Sequence[Finding],
    timing: TimingConfig,
    notes: Sequence[str] = (),
    expected: int = 0,
    quality: QualityConfig | None = None,
) -> CriterionScore:
    """Band score of the timings' geometric-mean ratio, minus static findings. ``notes`` are
    shown first (`grader.timing.TimingReport.evidence`: the clock used, what was not timed).
    ``expected``: how many items the assignment times; the band score counts for the share
    that could be timed (missing or wrong code has no speed, and earns none). ``quality`` prices
    the static findings (`QualityConfig.finding_cost`); None means the defaults."""
    evidence: list[str] = list(notes)
    usable = [t for t in timings if t.reference_ms > 0 and math.isfinite(t.candidate_ms)]
    if usable:
        # Geometric mean: a 2x win on one call and a 2x loss on another cancel out.
        ratio = math.exp(sum(math.log(t.ratio) for t in usable) / len(usable))
        base = timing_band(ratio, timing)
        for t in usable:
            evidence.append(
                f"{t.name}: {t.candidate_ms:.3g} ms (IQR {t.candidate_iqr_ms:.2g}) vs reference "
                f"{t.reference_ms:.3g} ms (IQR {t.reference_iqr_ms:.2g}) — {t.ratio:.2f}x"
            )
        evidence.append(f"timed {ratio:.2f}x the reference (geometric mean) — band score {base:g}")
        if expected > len(usable):
            base = round(base * len(usable) / expected, 1)
            evidence.append(
                f"only {len(usable)} of the {expected} timed items could be timed: the band score counts "
                f"for that share — {base:g}"
            )
    elif expected:
        ratio, base = float("nan"), 0.0
        evidence.append(
            f"none of the {expected} timed items could be timed (missing, or wrong results): no speed to credit"
        )
    else:
        ratio, base = float("nan"), 100.0
        evidence.append("nothing was timed; the score rests on static findings only")
    score, static = _minus_findings(base, findings, "optimisation", quality)
    return CriterionScore(
        "optimisation",
        score,
        tuple(evidence + static),
        tuple(f for f in findings if f.criterion == "optimisation"),
        metrics={"time_ratio": None if math.isnan(ratio) else round(ratio, 3)},
    )


def reusability(
    checks: Sequence[CheckResult],
    findings: Sequence[Finding],
    failed_check_cost: float,
    quality: QualityConfig | None = None,
) -> CriterionScore:
    """100, minus ``failed_check_cost`` per failed generality check (other sizes, lengths,
    defaults) and the static findings' costs. Points off per failure, not a share passed: an
    assignment with one generality check would otherwise give 0 for one failure."""
    counted = [c for c in checks if c.criterion == "reusability" and counts(c)]
    failed = [c for c in counted if not c.passed]
    evidence = [f"{c.name}: {'passed' if c.passed else c.status} — {c.message}" for c in counted]
    evidence += [
        f"{c.name}: {c.status}, inherited from the handout (not counted) — {c.message}"
        for c in checks
        if c.criterion == "reusability" and c.inherited
    ]
    evidence += [f"-{failed_check_cost:g}: {c.name} does not generalise" for c in failed]
    base = max(0.0, 100.0 - failed_check_cost * len(failed))
    if not counted:
        evidence.append("no generality check could run; the score rests on static findings only")
    score, static = _minus_findings(base, findings, "reusability", quality)
    return CriterionScore(
        "reusability",
        score,
        tuple(evidence + static),
        tuple(f for f in findings if f.criterion == "reusability"),
        metrics={
            "generality_checks_passed": len(counted) - len(failed),
            "generality_checks": len(counted),
        },
    )


def _minus_findings(
    base: float, findings: Sequence[Finding], criterion: str, quality: QualityConfig | None
) -> tuple[float, list[str]]:
    points_off, evidence = static_penalty(list(findings), criterion, quality)
    return round(max(0.0, min(100.0, base - points_off)), 1), evidence


def overall(criteria: dict[str, CriterionScore], weights: dict[str, float]) -> float:
    total = sum(weights.get(name, 0.0) for name in criteria)
    if not total:
        return 0.0
    return round(sum(c.score * weights.get(name, 0.0) for name, c in criteria.items()) / total, 1)


def completion_line(task: TaskResult) -> str:
    """A task's line of completion evidence, with the count every report states
    (`grader.task_counts`); the correctness checks the share comes from are named when
    they differ from it (a failing generality check counts under reusability)."""
    from grader.task_counts import task_count  # it reads `counts` from this module

    count = task_count(task)
    aside = (
        f" ({count.inherited} inherited from the handout, not counted)" if count.inherited else ""
    )
    if (count.correctness_passed, count.correctness) != (count.passed, count.counted):
        aside += f"; the share comes from its {count.correctness_passed}/{count.correctness} correctness checks"
    return (
        f"{task.title}: {count.label} checks passed{aside} — "
        f"{task.weight * task.score:.2f} of {task.weight:g}"
    )
