"""Bug: dropout acts on the scaled scores before the mask is added and the softmax (the
Hugging Face GPT-2 `_attn` order moved up): an additive mask added after the dropout hides
the NaN a dropped -inf would give, but dropout still zeroes scores, not weights."""

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
    if dropout is not None:
        scores = dropout(scores)  # on the scores: a dropped score becomes 0, not a dropped weight
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ value
