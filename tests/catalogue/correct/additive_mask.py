"""Correct, additive-mask style: the mask is a float tensor of 0 (attend) and -inf (blocked)
that attention adds to the scores, like nn.Transformer.generate_square_subsequent_mask."""

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
    """Scaled dot-product attention; mask is additive (0 or -inf), broadcastable to the scores."""
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))  # (b, h, seq_q, seq_k)
    if mask is not None:
        scores = scores + mask  # -inf where blocked: exp(-inf) = 0
    weights = torch.softmax(scores, dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value  # (batch, heads, seq_q, head_dim)


def generate_square_subsequent_mask(size: int) -> Tensor:
    """(size, size) float: 0 on and below the diagonal, -inf above it (the future)."""
    return torch.full((size, size), float("-inf")).triu(diagonal=1)
