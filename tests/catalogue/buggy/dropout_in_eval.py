"""Bug: attention applies F.dropout(..., training=True) with the module's rate, so the
attention weights are dropped even in eval mode and evaluation is random."""

import math

import torch.nn.functional as F
from torch import Tensor, nn

# Both fail as long as the check hands attention a dropout module in eval mode (a positive
# rate), which they must do to mean anything.
CATCHES = ["attention.dropout_respected", "encoder_block.deterministic_eval"]
MAY_CATCH = [
    "training.model_causal",
    "training.model_uses_positions",
    "training.model_batch_independent",
]


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
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = F.dropout(weights, p=dropout.p, training=True)  # ignores eval mode
    return weights @ value
