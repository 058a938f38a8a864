"""Correct, Karpathy's lecture style: one `Head` module per head, each with its own query,
key and value layers of head_dim outputs, run in a ModuleList and concatenated."""

# `attention` comes from base.py, which precedes this entry.
# ruff: noqa: F821

import torch
from torch import Tensor, nn


class Head(nn.Module):
    """One head of self-attention."""

    def __init__(self, dim: int, head_dim: int, dropout: nn.Module | None) -> None:
        super().__init__()
        self.query = nn.Linear(dim, head_dim)
        self.key = nn.Linear(dim, head_dim)
        self.value = nn.Linear(dim, head_dim)
        self.dropout = dropout

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None) -> Tensor:
        q = self.query(query).unsqueeze(1)  # (batch, 1, seq_q, head_dim)
        k, v = self.key(key).unsqueeze(1), self.value(value).unsqueeze(1)
        return attention(q, k, v, mask, self.dropout).squeeze(1)  # (batch, seq_q, head_dim)


class MultiHeadSelfAttention(nn.Module):
    """Several heads in parallel, then a projection."""

    def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by n_heads={n_heads}")
        self.dim = dim
        self.n_heads = n_heads
        shared = nn.Dropout(dropout) if dropout else None
        self.heads = nn.ModuleList([Head(dim, dim // n_heads, shared) for _ in range(n_heads)])
        self.linear_cat_attn = nn.Linear(dim, dim)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        heads = [head(query, key, value, mask) for head in self.heads]
        return self.linear_cat_attn(torch.cat(heads, dim=-1))  # (batch, seq_q, dim)
