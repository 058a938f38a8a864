"""Bug: attention accepts a dropout module but never applies it to the weights."""

import math

from torch import Tensor, nn

CATCHES = ["attention.dropout_respected"]
MAY_CATCH = []


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ value  # `dropout` is never used
