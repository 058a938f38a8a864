"""Correct, x-transformers style: a query layer `to_q` and one fused key/value layer `to_kv`
of 2 * dim rows, chunked in two."""

# `attention` comes from base.py, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor, nn


class MultiHeadSelfAttention(nn.Module):
    """Multi-head attention with a fused key/value projection."""

    def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by n_heads={n_heads}")
        self.dim = dim
        self.n_heads = n_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)
        self.linear_cat_attn = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout) if dropout else None

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        batch, seq_q, _ = query.shape
        k, v = self.to_kv(key).chunk(2, dim=-1)  # each (batch, seq_k, dim)

        def split(x: Tensor) -> Tensor:  # (batch, seq, dim) -> (batch, heads, seq, head_dim)
            return x.view(batch, x.size(1), self.n_heads, -1).transpose(1, 2)

        out = attention(split(self.to_q(query)), split(k), split(v), mask, self.dropout)
        return self.linear_cat_attn(out.transpose(1, 2).reshape(batch, seq_q, self.dim))
