"""Bug: attention divides the scores by head_dim instead of sqrt(head_dim), so softmax is too
flat once head_dim > 1."""

import torch
from torch import Tensor, nn

CATCHES = [
    "attention.matches_reference",
    "attention.matches_reference_masked",
    "multi_head_attention.matches_reference",
]
MAY_CATCH = [
    "attention.cross_lengths",
    "multi_head_attention.heads_range",
    "encoder_block.matches_reference",
]


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    d_k = query.size(-1)
    scores = query @ key.transpose(-2, -1) / d_k  # should be / sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value
