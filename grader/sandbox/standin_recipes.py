"""Stand-ins: plain, correct implementations of the transformer test's parts with the handout's
interfaces, bound in a candidate's worker in place of a part of theirs that fails its own
checks (or hangs), so that the parts which call it are graded on their own code. Runs inside
the worker; imports nothing from ``grader``.

A stand-in speaks the candidate's mask convention (the grader identified it): their
multi-head attention passes masks in that convention to whatever ``attention`` it calls.
Nothing here is a verdict: the grader still compares what comes out with the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from recipes import Context, recipe
from torch import Tensor, nn


def keep_mask(mask: Tensor, convention: str) -> Tensor:
    """A mask in ``convention`` as a boolean keep-mask (True = may attend)."""
    if convention == "keep-bool":
        return mask.bool()
    if convention == "block-bool":
        return ~mask.bool()
    if convention == "additive":
        return mask > -1e4
    if convention == "keep-float":
        return mask != 0
    return mask == 0  # block-float


def attention_in(convention: str) -> Callable[..., Tensor]:
    """Scaled dot-product attention taking masks in ``convention``."""

    def attention(
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None = None,
        dropout: Any = None,
    ) -> Tensor:
        scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))  # (..., Lq, Lk)
        if mask is not None:
            scores = scores.masked_fill(~keep_mask(mask, convention), float("-inf"))
        weights = scores.softmax(dim=-1)
        if dropout is not None:
            weights = dropout(weights)
        return weights @ value  # (..., Lq, head_dim)

    return attention


def multi_head_in(convention: str) -> type[nn.Module]:
    """A multi-head self-attention class, ``(dim, n_heads, dropout=None)``, on batch-first
    (batch, seq, dim) inputs, whose attention takes masks in ``convention``."""
    attend = attention_in(convention)

    class MultiHeadSelfAttention(nn.Module):
        def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
            super().__init__()
            self.n_heads, self.head_dim = n_heads, dim // n_heads
            self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
            self.dropout = nn.Dropout(dropout or 0.0)

        def forward(
            self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
        ) -> Tensor:
            batch, length, dim = query.shape

            def heads(x: Tensor) -> Tensor:  # (B, L, D) -> (B, H, L, d)
                return x.view(batch, -1, self.n_heads, self.head_dim).transpose(1, 2)

            q, k, v = heads(self.q(query)), heads(self.k(key)), heads(self.v(value))
            out = attend(q, k, v, mask, self.dropout)  # (B, H, L, d)
            return self.out(out.transpose(1, 2).reshape(batch, length, dim))

    return MultiHeadSelfAttention


class EncoderBlock(nn.Module):
    """A post-LayerNorm encoder block, ``(attn, d_model, dim_feedforward, eps, dropout)``."""

    def __init__(
        self,
        attn: nn.Module,
        d_model: int,
        dim_feedforward: int,
        layer_norm_eps: float = 1e-5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.attn = attn
        self.ff = nn.Sequential(
            nn.Linear(d_model, dim_feedforward),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dim_feedforward, d_model),
        )
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = self.norm1(x + self.dropout1(self.attn(x, x, x, mask)))
        return self.norm2(x + self.dropout2(self.ff(x)))


def mask_in(convention: str, leading: int) -> Callable[[int], Tensor]:
    """``generate_square_subsequent_mask(size)`` in ``convention``, with ``leading`` singleton
    dimensions in front."""

    def generate_square_subsequent_mask(size: int) -> Tensor:
        keep = torch.ones(size, size, dtype=torch.bool).tril()
        if convention == "keep-bool":
            mask = keep
        elif convention == "block-bool":
            mask = ~keep
        elif convention == "additive":
            mask = torch.zeros(size, size).masked_fill(~keep, float("-inf"))
        elif convention == "keep-float":
            mask = keep.float()
        else:
            mask = (~keep).float()
        return mask.reshape(*([1] * leading), size, size)

    return generate_square_subsequent_mask


@recipe
def stand_in(ctx: Context, kind: str, convention: str = "keep-bool", leading: int = 0) -> Any:
    """The stand-in for a part of ``kind``, in the candidate's mask convention; the grader binds
    it under the candidate's own name for that part."""
    makers: dict[str, Callable[[], Any]] = {
        "attention": lambda: attention_in(convention),
        "multi_head_attention": lambda: multi_head_in(convention),
        "encoder_block": lambda: EncoderBlock,
        "causal_mask": lambda: mask_in(convention, leading),
    }
    return makers[kind]()
