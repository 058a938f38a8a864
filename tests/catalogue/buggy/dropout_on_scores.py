"""Bug: dropout acts on the scores before the softmax. Without a mask it still looks like
dropout; with a causal mask a dropped -inf score becomes -inf * 0 = NaN."""

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
    if dropout is not None:
        scores = dropout(scores)  # before the softmax: -inf * 0 is NaN
    return scores.softmax(dim=-1) @ value
