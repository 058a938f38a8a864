"""Bug: the heads' outputs are merged with view(batch, seq, dim) straight from
(batch, heads, seq, head_dim), without transposing back, so each output row mixes several
positions."""

# `MultiHeadSelfAttention` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = [
    "multi_head_attention.matches_reference",
    "multi_head_attention.permutation_equivariant",
    "multi_head_attention.causal",
    "encoder_block.causal",
    "training.model_causal",
]
MAY_CATCH = [
    "multi_head_attention.heads_range",
    "encoder_block.matches_reference",
    "training.not_too_good",
]


class MultiHeadSelfAttention(MultiHeadSelfAttention):
    def _merge_heads(self, x: Tensor) -> Tensor:
        batch, _, seq, _ = x.shape
        return x.contiguous().view(batch, seq, self.dim)  # needs transpose(1, 2) first
