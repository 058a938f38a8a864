"""Bug: the multi-head module builds nn.Dropout(dropout) unconditionally, so its default
dropout=None raises TypeError at construction."""

# `MultiHeadSelfAttention` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import nn

CATCHES = ["multi_head_attention.default_construction"]
MAY_CATCH = [
    "multi_head_attention.output_shape",
    "multi_head_attention.matches_reference",
    "multi_head_attention.permutation_equivariant",
    "multi_head_attention.batch_independent",
    "multi_head_attention.causal",
    "multi_head_attention.heads_range",
    "multi_head_attention.rejects_indivisible",
]


class MultiHeadSelfAttention(MultiHeadSelfAttention):
    def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
        super().__init__(dim, n_heads, dropout)
        self.dropout = nn.Dropout(dropout)  # nn.Dropout(None) raises TypeError
