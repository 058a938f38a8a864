"""Correct, with the parameters named the way torch names them: ``attention(q, k, v,
attn_mask=None, dropout_p=0.0)`` takes a dropout rate, not a module, and the multi-head
module passes its rate while training and 0 in eval mode."""

# `MultiHeadSelfAttention` comes from base.py, which precedes this entry.
# ruff: noqa: F821

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def attention(
    q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None, dropout_p: float = 0.0
) -> Tensor:
    """Scaled dot-product attention on (batch, heads, seq, head_dim) tensors.

    :param attn_mask: boolean, True where a query may attend; None attends everywhere.
    :param dropout_p: probability of dropping an attention weight.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (batch, heads, seq_q, seq_k)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (batch, heads, seq_q, seq_k)
    weights = F.dropout(weights, p=dropout_p, training=dropout_p > 0)
    return weights @ v  # (batch, heads, seq_q, head_dim)


class MultiHeadSelfAttention(MultiHeadSelfAttention):
    """base.py's module, calling `attention` with a rate."""

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        q = self._split_heads(self.linear_query(query))  # (batch, heads, seq_q, head_dim)
        k = self._split_heads(self.linear_key(key))  # (batch, heads, seq_k, head_dim)
        v = self._split_heads(self.linear_value(value))  # (batch, heads, seq_k, head_dim)
        rate = self.dropout.p if self.dropout is not None and self.training else 0.0
        heads = attention(q, k, v, mask, rate)  # (batch, heads, seq_q, head_dim)
        return self.linear_cat_attn(self._merge_heads(heads))  # (batch, seq_q, dim)
