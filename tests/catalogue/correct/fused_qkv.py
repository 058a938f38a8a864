"""Correct, fused style: one nn.Linear(dim, 3 * dim) projects queries, keys and values at once
(self-attention only: the query input is used for all three)."""

# `attention` comes from base.py, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor, nn


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with a single fused input projection."""

    def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by n_heads={n_heads}")
        self.dim = dim
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.linear_qkv = nn.Linear(dim, 3 * dim)  # rows: query, then key, then value
        self.linear_cat_attn = nn.Linear(dim, dim)
        self.attn_dropout = nn.Dropout(dropout) if dropout else None

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """Self-attention: key and value are expected to be the same tensor as query."""
        batch, seq, _ = query.shape
        qkv = self.linear_qkv(query)  # (batch, seq, 3 * dim)
        qkv = qkv.view(batch, seq, 3, self.n_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (batch, heads, seq, head_dim)
        out = attention(q, k, v, mask, self.attn_dropout)  # (batch, heads, seq, head_dim)
        out = out.transpose(1, 2).reshape(batch, seq, self.dim)  # (batch, seq, dim)
        return self.linear_cat_attn(out)
