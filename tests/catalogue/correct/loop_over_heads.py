"""Correct, loop style: the projections are computed once, then a Python loop runs attention
on each head's slice of the features and concatenates the heads' outputs."""

# `attention` comes from base.py, which precedes this entry.
# ruff: noqa: F821

import torch
from torch import Tensor, nn


class MultiHeadSelfAttention(nn.Module):
    """Multi-head attention with one attention call per head."""

    def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by n_heads={n_heads}")
        self.dim = dim
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.linear_query = nn.Linear(dim, dim)
        self.linear_key = nn.Linear(dim, dim)
        self.linear_value = nn.Linear(dim, dim)
        self.linear_cat_attn = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout) if dropout else None

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        q = self.linear_query(query)  # (batch, seq_q, dim)
        k = self.linear_key(key)  # (batch, seq_k, dim)
        v = self.linear_value(value)  # (batch, seq_k, dim)
        outputs = []
        for h in range(self.n_heads):
            features = slice(h * self.head_dim, (h + 1) * self.head_dim)
            # unsqueeze(1): a heads axis of size 1, the layout `attention` expects.
            q_h = q[..., features].unsqueeze(1)  # (batch, 1, seq_q, head_dim)
            k_h = k[..., features].unsqueeze(1)  # (batch, 1, seq_k, head_dim)
            v_h = v[..., features].unsqueeze(1)  # (batch, 1, seq_k, head_dim)
            outputs.append(attention(q_h, k_h, v_h, mask, self.dropout).squeeze(1))
        return self.linear_cat_attn(torch.cat(outputs, dim=-1))  # (batch, seq_q, dim)
