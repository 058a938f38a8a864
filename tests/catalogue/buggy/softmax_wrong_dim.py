"""Bug: softmax normalises over the queries (dim=-2) instead of the keys, so the weights of a
query do not sum to one and, under a causal mask, later queries leak into earlier outputs."""

import math

from torch import Tensor, nn

CATCHES = [
    "attention.matches_reference",
    "attention.matches_reference_masked",
    "attention.weights_are_distribution",
    "multi_head_attention.matches_reference",
    "multi_head_attention.causal",
    "encoder_block.causal",
    "training.model_causal",
]
MAY_CATCH = [
    "attention.large_logits_finite",
    "attention.cross_lengths",
    "multi_head_attention.heads_range",
    "encoder_block.matches_reference",
    "causal_mask.causal",
    "training.not_too_good",
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
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-2)  # over the queries: should be dim=-1
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value
