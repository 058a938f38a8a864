"""Bug: attention transposes the key's dims 1 and 2 (a habit from 3-D tensors) instead of the
last two, so on (batch, heads, seq, head_dim) the product fails for almost every shape."""

import math

from torch import Tensor, nn

CATCHES = [
    "attention.output_shape",
    "attention.matches_reference",
    "multi_head_attention.output_shape",
    "multi_head_attention.matches_reference",
    "encoder_block.output_shape",
    "training.model_output_shape",
]
# Everything else that calls this attention errors too, for almost every shape drawn.
MAY_CATCH = [
    "attention.matches_reference_masked",
    "attention.weights_are_distribution",
    "attention.large_logits_finite",
    "attention.cross_lengths",
    "attention.dropout_none_deterministic",
    "attention.dropout_respected",
    "multi_head_attention.permutation_equivariant",
    "multi_head_attention.batch_independent",
    "multi_head_attention.causal",
    "multi_head_attention.default_construction",
    "multi_head_attention.heads_range",
    "multi_head_attention.every_parameter_trains",
    "encoder_block.matches_reference",
    "encoder_block.deterministic_eval",
    "encoder_block.stochastic_train",
    "encoder_block.causal",
    "encoder_block.every_parameter_matters",
    "causal_mask.causal",
    "causal_mask.attends_self",
    "causal_mask.length_one",
    "training.model_causal",
    "training.model_uses_positions",
    "training.model_batch_independent",
    "training.runs",
    "training.loss_decreases",
    "training.candidate_loop",
]


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    scores = query @ key.transpose(1, 2) / math.sqrt(query.size(-1))  # should be (-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value
