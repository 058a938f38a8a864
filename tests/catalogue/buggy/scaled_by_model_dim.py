"""Bug: the multi-head module computes attention inline and scales by sqrt(dim) (the model
width) instead of sqrt(head_dim); the attention function itself is correct."""

# `MultiHeadSelfAttention` is base.py's class, which precedes this entry.
# ruff: noqa: F821

import math

from torch import Tensor

CATCHES = ["multi_head_attention.matches_reference"]
MAY_CATCH = ["multi_head_attention.heads_range", "encoder_block.matches_reference"]


class MultiHeadSelfAttention(MultiHeadSelfAttention):
    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        q = self._split_heads(self.linear_query(query))  # (batch, heads, seq_q, head_dim)
        k = self._split_heads(self.linear_key(key))
        v = self._split_heads(self.linear_value(value))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.dim)  # should be sqrt(head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1)
        if self.dropout is not None:
            weights = self.dropout(weights)
        return self.linear_cat_attn(self._merge_heads(weights @ v))
