"""The verdict on a candidate's own training loop when the model starts near the uniform
distribution (minGPT's normal(0, 0.02) initialisation): reaching the corpus's unigram plateau
is what the handout's SGD does first, so it counts, and nothing less does."""

from __future__ import annotations

import math

import torch

from grader.config import GraderConfig
from grader.training import frequencies_learned, verdict
from reference.data import Corpus

VOCAB = 256
UNIGRAM = 5.288
CORPUS = Corpus(
    name="synthetic",
    splits=("train", "valid"),
    vocab_size=VOCAB,
    tokens={"train": torch.zeros(10, dtype=torch.int64)},
    unigram_entropy=UNIGRAM,
    entropy_rate=1.08,
)
CONFIG = GraderConfig()
NEAR_UNIFORM = math.log(VOCAB) + 0.03  # where a GPT-2-initialised model starts


def test_reaching_the_plateau_from_near_uniform_passes() -> None:
    after = UNIGRAM + 0.02
    assert verdict(NEAR_UNIFORM, after, CORPUS, CONFIG)[0] == "fail"  # under 5 % of the start
    said = frequencies_learned(NEAR_UNIFORM, after, CORPUS, CONFIG)
    assert said is not None and "unigram plateau" in said


def test_a_loop_that_barely_moves_still_fails() -> None:
    assert frequencies_learned(NEAR_UNIFORM, NEAR_UNIFORM - 0.04, CORPUS, CONFIG) is None


def test_stopping_above_the_plateau_still_fails() -> None:
    margin = CONFIG.training.context_margin_nats
    assert frequencies_learned(NEAR_UNIFORM, UNIGRAM + 2 * margin, CORPUS, CONFIG) is None


def test_a_diverged_loop_is_never_rescued() -> None:
    assert frequencies_learned(NEAR_UNIFORM, float("nan"), CORPUS, CONFIG) is None
