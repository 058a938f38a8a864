"""Bug: the additive mask is built as (1 - tril) * -inf, and 0 * -inf is NaN, so every
allowed score becomes NaN and so does every masked output."""

import math

import torch
from torch import Tensor, nn

CATCHES = ["causal_mask.convention", "training.model_causal"]
MAY_CATCH = [
    "attention.matches_reference_masked",
    "causal_mask.causal",
    "causal_mask.attends_self",
    "causal_mask.length_one",
    "causal_mask.other_length",
    "multi_head_attention.causal",
    "encoder_block.causal",
    "training.runs",
    "training.loss_decreases",
    "training.not_too_good",
    "training.candidate_loop",
]


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))
    if mask is not None:
        scores = scores + mask  # additive mask
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value


def generate_square_subsequent_mask(size: int) -> Tensor:
    keep = torch.ones(size, size).tril()
    return (1 - keep) * float("-inf")  # 0 * -inf = NaN on the allowed entries
