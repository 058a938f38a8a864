"""Bug: attention calls scores.masked_fill(...) without assigning the result, so the mask is
silently ignored and every position sees the future."""

import math

from torch import Tensor, nn

CATCHES = [
    "attention.matches_reference_masked",
    "causal_mask.causal",
    "multi_head_attention.causal",
    "encoder_block.causal",
    "training.model_causal",
]
MAY_CATCH = ["training.not_too_good"]


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))
    if mask is not None:
        scores.masked_fill(~mask, float("-inf"))  # out-of-place: the result is dropped
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value
