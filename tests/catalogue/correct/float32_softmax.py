"""Correct (style): the fairseq / Hugging Face idiom: the softmax is computed in float32 and cast back to
the input's dtype, so float64 inputs give float64 outputs rounded at float32 precision."""

import math

import torch
from torch import Tensor, nn

DIFFERS_FROM_BASE = ["mha"]  # float32 rounding, beyond the probes' 1e-6


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(query.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores.float(), dim=-1).type_as(scores)  # float32 for stability
    if dropout is not None:
        weights = dropout(weights)
    return torch.matmul(weights, value)
