"""Bug: attention never divides the scores by sqrt(head_dim), so softmax is too peaked once
head_dim > 1."""

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
    scores = query @ key.transpose(-2, -1)  # (batch, heads, seq_q, seq_k), unscaled
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value
