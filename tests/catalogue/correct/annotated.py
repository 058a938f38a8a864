"""Correct, Annotated-Transformer style: a (1, size, size) mask of 1 (attend) and 0 (blocked),
applied with masked_fill(mask == 0, -1e9) rather than -inf."""

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
    """Scaled dot-product attention; mask holds 1 where a key may be attended, 0 elsewhere."""
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        # -1e9 instead of -inf: a fully masked row becomes uniform instead of NaN.
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = scores.softmax(dim=-1)  # (batch, heads, seq_q, seq_k)
    if dropout is not None:
        p_attn = dropout(p_attn)
    return torch.matmul(p_attn, value)  # (batch, heads, seq_q, head_dim)


def generate_square_subsequent_mask(size: int) -> Tensor:
    """(1, size, size) of 1 on and below the diagonal; the leading 1 broadcasts over batch."""
    return torch.tril(torch.ones(1, size, size))
