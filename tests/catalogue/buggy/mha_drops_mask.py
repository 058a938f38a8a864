"""Bug: the multi-head module never forwards its mask to attention, so the causal mask built
by the loop has no effect."""

# `MultiHeadSelfAttention` and `attention` are base.py's, which precede this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["multi_head_attention.causal", "encoder_block.causal", "training.model_causal"]
MAY_CATCH = ["training.not_too_good"]


class MultiHeadSelfAttention(MultiHeadSelfAttention):
    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        q = self._split_heads(self.linear_query(query))
        k = self._split_heads(self.linear_key(key))
        v = self._split_heads(self.linear_value(value))
        heads = attention(q, k, v, dropout=self.dropout)  # `mask` is dropped here
        return self.linear_cat_attn(self._merge_heads(heads))
