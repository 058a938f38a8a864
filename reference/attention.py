"""Scaled dot-product attention and multi-head self-attention (Vaswani et al. 2017, §3.2).

Tensors are batch-first. Inside attention the heads are a batch dimension of their own, so
every head is computed by the same batched matrix products: there is no loop over heads.

Masks follow `reference.masks`: a boolean mask keeps the pairs where it is True, a floating
mask is added to the scores (0 keeps, ``-inf`` blocks). Masks broadcast against the scores
``(batch, heads, seq_q, seq_k)``, so ``(seq_q, seq_k)``, ``(1, seq_q, seq_k)`` and
``(batch, 1, seq_q, seq_k)`` all work. A query row whose keys are all blocked has no
distribution to take and comes out as NaN, as in ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from reference.masks import to_additive


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    """Scaled dot-product attention: ``softmax(q k^T / sqrt(head_dim) + mask) v``.

    :param query: (batch, heads, seq_q, head_dim).
    :param key: (batch, heads, seq_k, head_dim).
    :param value: (batch, heads, seq_k, head_dim).
    :param mask: boolean keep mask or additive float mask, broadcastable to
        (batch, heads, seq_q, seq_k); None attends everywhere.
    :param dropout: a module applied to the attention weights (e.g. ``nn.Dropout``), or None.
    :return: (batch, heads, seq_q, head_dim), each query's weighted mean of the values.
    """
    # Dividing by sqrt(head_dim) keeps the scores' variance near 1 whatever the head size,
    # so the softmax does not saturate and its gradients do not vanish. Scaling the query
    # rather than the scores touches seq_q * head_dim numbers instead of seq_q * seq_k.
    scale = 1.0 / math.sqrt(query.size(-1))
    scores = (query * scale) @ key.transpose(-2, -1)  # (batch, heads, seq_q, seq_k)
    if mask is not None:
        # A boolean mask becomes 0 / -inf first (usually (seq_q, seq_k), small beside the
        # scores). Adding in place costs one pass over the scores, allocates nothing, and its
        # gradient is the identity: no pass in the backward.
        scores += to_additive(mask, scores.dtype) if mask.dtype == torch.bool else mask
    weights = scores.softmax(dim=-1)  # (batch, heads, seq_q, seq_k), rows sum to 1
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value  # (batch, heads, seq_q, head_dim)


PER_SEQUENCE_MASK_DIMS = 3
"""A 3-D mask is (batch, seq_q, seq_k): one mask per sequence. Broadcast as it is against
(batch, heads, seq_q, seq_k) its batch axis would meet the heads axis, so it gets a heads
axis of size 1 first."""


class MultiHeadSelfAttention(nn.Module):
    """Multi-head attention with separate query, key, value and output projections.

    ``forward(query, key, value, mask)`` takes batch-first (batch, seq, dim) inputs; for
    self-attention pass the same tensor three times. The ``dim`` features are split into
    ``n_heads`` heads of ``dim // n_heads`` features, attended independently and joined.
    """

    def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
        """
        :param dim: width of the inputs and outputs; must be divisible by ``n_heads``.
        :param n_heads: number of attention heads.
        :param dropout: dropout probability on the attention weights; None or 0 for none.
        """
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(
                f"dim ({dim}) must be divisible by n_heads ({n_heads}) so that every head "
                f"gets the same number of features"
            )
        self.dim = dim
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.linear_query = nn.Linear(dim, dim)
        self.linear_key = nn.Linear(dim, dim)
        self.linear_value = nn.Linear(dim, dim)
        self.linear_cat_attn = nn.Linear(dim, dim)  # the handout's names, so forward fits it
        # No module at all when there is no dropout: nothing to call, nothing to get wrong.
        self.dropout = nn.Dropout(dropout) if dropout else None

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """
        :param query: (batch, seq_q, dim).
        :param key: (batch, seq_k, dim).
        :param value: (batch, seq_k, dim).
        :param mask: as in `attention`: (seq_q, seq_k) for every sequence, (batch, seq_q,
            seq_k) for one mask per sequence, or already (batch, n_heads, seq_q, seq_k).
        :return: (batch, seq_q, dim).
        """
        batch, seq_q, _ = query.shape
        if mask is not None and mask.dim() == PER_SEQUENCE_MASK_DIMS:
            mask = mask.unsqueeze(1)  # (batch, 1, seq_q, seq_k): shared by the heads
        query = self._split_heads(self.linear_query(query))  # (batch, heads, seq_q, head_dim)
        key = self._split_heads(self.linear_key(key))  # (batch, heads, seq_k, head_dim)
        value = self._split_heads(self.linear_value(value))  # (batch, heads, seq_k, head_dim)
        heads = attention(query, key, value, mask, self.dropout)  # (batch, heads, seq_q, head_dim)
        joined = heads.transpose(1, 2).reshape(batch, seq_q, self.dim)  # (batch, seq_q, dim)
        return self.linear_cat_attn(joined)  # (batch, seq_q, dim)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(batch, seq, dim) -> (batch, heads, seq, head_dim), a view without a copy."""
        return x.unflatten(-1, (self.n_heads, self.head_dim)).transpose(1, 2)
