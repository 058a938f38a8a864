"""The reference model's baseline read from the cache is the baseline a fresh run gives: the same
curve and losses, so the same verdicts; the cache serves it without starting a worker, and a
changed setting computes it again."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader import assignment as assignments
from grader import reference_cache, reference_side, training
from grader.config import GraderConfig, TrainingBudget
from grader.result import TrainingRun
from grader.trusted import MODEL_MODULES, LazyReference
from reference.data import load_corpus

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

BUDGET = TrainingBudget(steps=60, eval_every=20, eval_windows=4, timeout_s=600)
"""Long enough for the reference model to leave the unigram plateau (so the baseline decides
`context_free`), short enough for a test."""
TIMED = ("ms_per_batch", "tokens_per_s")
"""How fast a run went depends on the machine's load, not on its inputs."""


class NoWorker:
    """A reference that fails the test if a worker is asked for: the value must come from the
    cache."""

    def optional(self) -> None:
        raise AssertionError("the baseline was computed again instead of read from the cache")


def without_timing(run: TrainingRun) -> TrainingRun:
    return replace(run, **dict.fromkeys(TIMED))


@pytest.fixture(scope="module")
def fresh_and_cached(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("reference-cache")
    config = GraderConfig(training_override=BUDGET)
    task = next(t for t in assignments.get("transformer_lm").tasks if t.kind == "lm_training")
    corpus = load_corpus(None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(reference_cache.ENV, str(root))
        patch.setattr(reference_cache, "out_of_workers_reach", lambda: True)
        fresh = training.reference_baseline(corpus, task.options, config)
        reference = LazyReference(config, MODEL_MODULES, None)
        try:
            computed = reference_side.lm_baseline(corpus, task.options, config, reference)
        finally:
            reference.close()
        cached = reference_side.lm_baseline(corpus, task.options, config, NoWorker())
        with pytest.raises(AssertionError, match="computed again"):
            other = replace(config, seed=1)  # another setting: not the cached value
            reference_side.lm_baseline(corpus, task.options, other, NoWorker())
    return {
        "fresh": fresh,
        "computed": computed,
        "cached": cached,
        "corpus": corpus,
        "config": config,
        "files": sorted(p.name for p in root.glob("lm-baseline-*.json")),
    }


def test_the_cached_baseline_is_the_fresh_one(fresh_and_cached: dict) -> None:
    fresh, cached = fresh_and_cached["fresh"], fresh_and_cached["cached"]
    assert fresh.status == "pass" and fresh.steps == BUDGET.steps
    assert without_timing(cached) == without_timing(fresh)
    assert without_timing(fresh_and_cached["computed"]) == without_timing(fresh)
    assert cached.ms_per_batch is not None  # the speed of the run that was kept
    assert len(fresh_and_cached["files"]) == 1


def test_a_cached_baseline_gives_the_verdicts_a_fresh_one_gives(fresh_and_cached: dict) -> None:
    corpus, config = fresh_and_cached["corpus"], fresh_and_cached["config"]
    unigram = corpus.unigram_entropy
    baseline = fresh_and_cached["fresh"]
    assert baseline.val_loss_after < unigram - 2 * config.training.context_margin_nats
    # A candidate's model that only learned token frequencies, and one that learned more:
    # the first fails `loss_decreases` because the baseline did better.
    for after, expected in ((unigram - 0.05, "fail"), (baseline.val_loss_after, "pass")):
        ours = TrainingRun(
            "reference_loop", "pass", "went down", BUDGET.steps, unigram + 0.5, after
        )
        verdicts = [
            {c.name: (c.status, c.message) for c in training.checks_from_runs(
                "training", [ours, fresh_and_cached[which]], [], unigram, config
            )}
            for which in ("fresh", "cached")
        ]  # fmt: skip
        assert verdicts[0] == verdicts[1]
        assert verdicts[0]["training.loss_decreases"][0] == expected
