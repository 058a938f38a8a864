"""The calibrated overall grade (grader/calibration.py) on constructed results: a critical
failure of the candidate's own caps the grade, one inherited from the handout does not, and
the quality criteria count at the share of the work that is correct."""

from __future__ import annotations

from dataclasses import replace

from report.fixtures import broken_result, graded_result

from grader.calibration import (
    TAMPERING_PREFIX,
    calibrated,
    correct_share,
    critical_flags,
    first_sentence,
)
from grader.config import CalibrationConfig, GraderConfig
from grader.pipeline import TAMPERING
from grader.result import SubmissionResult

WEIGHTS = GraderConfig().scoring.criterion_weights
CONFIG = CalibrationConfig()


def weighted_mean(result: SubmissionResult) -> float:
    total = sum(WEIGHTS.get(n, 0.0) for n in result.criteria)
    return sum(c.score * WEIGHTS.get(n, 0.0) for n, c in result.criteria.items()) / total


def with_scores(result: SubmissionResult, score: float) -> SubmissionResult:
    """``result`` with every criterion at ``score`` and the plain weighted mean as overall."""
    criteria = {n: replace(c, score=score) for n, c in result.criteria.items()}
    return replace(result, criteria=criteria, overall=score)


def passing(result: SubmissionResult) -> SubmissionResult:
    tasks = {
        tid: replace(
            t, status="pass", score=1.0, checks=tuple(replace(c, status="pass") for c in t.checks)
        )
        for tid, t in result.tasks.items()
    }
    return replace(result, tasks=tasks)


def test_a_critical_failure_caps_the_grade_and_says_so() -> None:
    leaky = with_scores(graded_result(), 95.0)
    assert any(f.caps for f in critical_flags(leaky))
    capped = calibrated(leaky, WEIGHTS, CONFIG)
    assert capped.overall == CONFIG.critical_cap
    assert f"Capped at {CONFIG.critical_cap:g}" in capped.overall_note
    assert "reads the future" in capped.overall_note


def test_a_working_submission_is_not_capped_and_keeps_its_weighted_mean() -> None:
    working = with_scores(passing(graded_result()), 95.0)
    assert not any(f.caps for f in critical_flags(working))
    assert correct_share(working) == 1.0
    result = calibrated(working, WEIGHTS, CONFIG)
    assert result.overall == round(weighted_mean(working), 1) and result.overall_note == ""


def test_every_capped_submission_is_15_points_below_every_working_one_of_equal_quality() -> None:
    """The issue's ordering constraint, over a grid of criteria scores: a working submission
    that scores at least ``cap + 15`` before calibration keeps it, a critical one drops to
    the cap or below."""
    for score in range(0, 101, 5):
        critical = calibrated(with_scores(graded_result(), score), WEIGHTS, CONFIG)
        assert critical.overall <= CONFIG.critical_cap
        working = calibrated(with_scores(passing(graded_result()), score), WEIGHTS, CONFIG)
        if score >= CONFIG.critical_cap + 15:
            assert working.overall >= critical.overall + 15


def test_failures_inherited_from_the_handout_are_flagged_but_do_not_cap() -> None:
    result = graded_result()
    tasks = {
        tid: replace(
            t,
            status="pass",
            checks=tuple(
                replace(c, authorship="handout") if c.status in ("fail", "error") else c
                for c in t.checks
            ),
        )
        for tid, t in result.tasks.items()
    }
    inherited = with_scores(replace(result, tasks=tasks), 90.0)
    flags = critical_flags(inherited)
    assert flags and not any(f.own for f in flags if f.id == "reads_future")
    assert not any(f.caps for f in flags)
    assert calibrated(inherited, WEIGHTS, CONFIG).overall > CONFIG.critical_cap


def test_a_leak_through_a_part_graded_in_isolation_still_caps() -> None:
    """Attention and mask disagree on the convention: each task passes on its own code (the
    training task with a correct attention in place), but the model as handed in reads the
    future and the training checks fail as written. The submission does not work."""
    working = with_scores(passing(graded_result()), 95.0)
    training = working.tasks["training"]
    leak = replace(
        training.checks[0],
        name="training.model_causal",
        status="fail",
        message="as written, through `attention`: position 0 sees the future. More text.",
    )
    tasks = dict(working.tasks) | {"training": replace(training, as_written=(leak,))}
    isolated = replace(working, tasks=tasks)
    flags = {f.id: f for f in critical_flags(isolated)}
    assert flags["reads_future"].own and flags["reads_future"].check == "training.model_causal"
    assert "as written" in flags["reads_future"].detail
    assert "does_not_train" not in flags  # the leak is the one fact, said once
    assert calibrated(isolated, WEIGHTS, CONFIG).overall == CONFIG.critical_cap
    stalls = replace(leak, name="training.loss_decreases", message="as written: no decrease.")
    tasks = dict(working.tasks) | {"training": replace(training, as_written=(stalls,))}
    flags = {f.id: f for f in critical_flags(replace(working, tasks=tasks))}
    assert flags["does_not_train"].label == "training fails as written"
    assert flags["does_not_train"].caps and "reads_future" not in flags
    inherited = replace(leak, authorship="handout")
    tasks = dict(working.tasks) | {"training": replace(training, as_written=(inherited,))}
    handout = replace(working, tasks=tasks)
    assert not any(f.caps for f in critical_flags(handout))


def test_quality_counts_at_the_share_of_the_work_that_is_correct() -> None:
    """Same criteria scores, less correct work: a lower grade, and never above the working
    submission's whatever the quality scores."""
    working = calibrated(with_scores(passing(graded_result()), 80.0), WEIGHTS, CONFIG)
    result = graded_result()
    perfect_code = {
        n: replace(c, score=100.0 if n in CONFIG.quality_criteria else working.criteria[n].score)
        for n, c in result.criteria.items()
    }
    broken = replace(result, criteria=perfect_code, overall=90.0)
    no_cap = CalibrationConfig(critical_cap=100.0)
    scaled = calibrated(broken, WEIGHTS, no_cap)
    assert correct_share(broken) < 1.0
    assert scaled.overall < weighted_mean(broken)
    assert "count at" in scaled.overall_note


def test_a_withheld_or_missing_grade_is_kept() -> None:
    broken = broken_result()
    assert calibrated(replace(broken, overall=0.0), WEIGHTS, CONFIG).overall == 0.0
    assert calibrated(replace(broken, overall=None), WEIGHTS, CONFIG).overall is None


def test_tampering_is_recognised_from_the_pipelines_own_message() -> None:
    assert TAMPERING.startswith(TAMPERING_PREFIX)
    result = replace(graded_result(), errors=(TAMPERING + "writes to the protocol pipe",))
    assert next(f.id for f in critical_flags(result)) == "tampering"


def test_the_verdict_sentence_of_a_training_message_is_what_went_wrong() -> None:
    message = (
        "validation loss 5.9 -> 1.8 nats/token: it went down by 4.1 (needed 0.3); but changing "
        "the tokens from position 17 on moved the prediction at position 16. More detail."
    )
    assert first_sentence(message) == (
        "changing the tokens from position 17 on moved the prediction at position 16"
    )
