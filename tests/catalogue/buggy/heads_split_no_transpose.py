"""Bug: the heads are split with view(batch, heads, seq, head_dim) straight from
(batch, seq, dim), without the transpose, so "positions" of a head mix features of
different tokens."""

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
    def _split_heads(self, x: Tensor) -> Tensor:
        batch, seq, _ = x.shape
        # Should be view(batch, seq, heads, head_dim).transpose(1, 2).
        return x.view(batch, self.n_heads, seq, self.head_dim)
