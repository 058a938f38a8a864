"""Correct, Bloom style: one fused nn.Linear(dim, 3 * dim) whose output is laid out head by
head, (heads, 3, head_dim), and split after a view to (batch, seq, heads, 3, head_dim)."""

# `attention` comes from base.py, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor, nn


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with a fused projection interleaved per head."""

    def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by n_heads={n_heads}")
        self.dim = dim
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.query_key_value = nn.Linear(dim, 3 * dim)  # each head: its query, key, value rows
        self.linear_cat_attn = nn.Linear(dim, dim)
        self.attn_dropout = nn.Dropout(dropout) if dropout else None

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """Self-attention: key and value are expected to be the same tensor as query."""
        batch, seq, _ = query.shape
        fused = self.query_key_value(query).view(batch, seq, self.n_heads, 3, self.head_dim)
        q, k, v = (fused[..., i, :].transpose(1, 2) for i in range(3))  # (batch, heads, seq, hd)
        out = attention(q, k, v, mask, self.attn_dropout)  # (batch, heads, seq, head_dim)
        out = out.transpose(1, 2).reshape(batch, seq, self.dim)  # (batch, seq, dim)
        return self.linear_cat_attn(out)
