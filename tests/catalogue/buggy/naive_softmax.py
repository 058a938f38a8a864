"""Bug: softmax is written as exp(s) / sum(exp(s)) without subtracting the maximum, so large
logits overflow to inf / inf = NaN."""

import math

import torch
from torch import Tensor, nn

CATCHES = ["attention.large_logits_finite"]
MAY_CATCH = []


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))
    exp = torch.exp(scores)  # overflows for scores above ~88 (float32) or ~709 (float64)
    if mask is not None:
        exp = exp * mask
    weights = exp / exp.sum(dim=-1, keepdim=True)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value
