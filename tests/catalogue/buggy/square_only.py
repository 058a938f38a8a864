"""Bug: attention flattens batch and heads for bmm using the query's length for the keys too,
so it works for self-attention but breaks when the key length differs."""

import math

import torch
from torch import Tensor, nn

CATCHES = ["attention.cross_lengths"]
MAY_CATCH = []


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    batch, heads, seq, head_dim = query.shape
    # Every reshape uses the query's length `seq`, also for the keys and values.
    q = query.reshape(batch * heads, seq, head_dim)
    k = key.reshape(batch * heads, seq, head_dim)
    v = value.reshape(batch * heads, seq, head_dim)
    scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(head_dim)  # (b * h, seq, seq)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return torch.bmm(weights, v).view(batch, heads, seq, head_dim)
