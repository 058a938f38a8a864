"""Bug: the value projection is detached inside forward. The output is the same numbers, so
every comparison passes, but no gradient reaches linear_value: it never trains."""

# `MultiHeadSelfAttention` and `attention` are base.py's, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["multi_head_attention.every_parameter_trains"]
MAY_CATCH = []


class MultiHeadSelfAttention(MultiHeadSelfAttention):
    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        q = self._split_heads(self.linear_query(query))
        k = self._split_heads(self.linear_key(key))
        v = self._split_heads(self.linear_value(value).detach())
        heads = attention(q, k, v, mask, self.dropout)
        return self.linear_cat_attn(self._merge_heads(heads))
