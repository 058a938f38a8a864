"""Correct, blocking-mask style: the mask is boolean with True where attention is blocked,
the nn.MultiheadAttention convention, and attention fills those scores with -inf."""

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
    """Scaled dot-product attention; mask is boolean, True where a key is blocked."""
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(query.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))  # (batch, heads, seq_q, seq_k)
    weights = scores.softmax(-1)
    if dropout is not None:
        weights = dropout(weights)
    return torch.matmul(weights, value)  # (batch, heads, seq_q, head_dim)


def generate_square_subsequent_mask(size: int) -> Tensor:
    """(size, size) boolean, True strictly above the diagonal: the future is blocked."""
    return torch.ones(size, size, dtype=torch.bool).triu(diagonal=1)
