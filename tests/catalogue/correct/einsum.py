"""Correct, einsum style: the attention products written as torch.einsum index patterns
and the scale multiplied in (1 / sqrt(head_dim))."""

import math

import torch
from torch import Tensor, nn


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    """Scaled dot-product attention with named index patterns."""
    scale = 1.0 / math.sqrt(query.shape[-1])
    scores = torch.einsum("bhqd,bhkd->bhqk", query, key) * scale  # (b, h, seq_q, seq_k)
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -math.inf)
    weights = torch.softmax(scores, dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return torch.einsum("bhqk,bhkd->bhqd", weights, value)  # (b, h, seq_q, head_dim)
