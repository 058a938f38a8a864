"""Hypothesis strategies shared by the suites: shapes small enough to be fast, values from a
seeded generator so a counterexample is reproducible from its shape and seed alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import torch
from hypothesis import strategies as st


@dataclass(frozen=True)
class AttnShape:
    """Shapes of one attention call: (batch, heads, query length, key length, head dim)."""

    batch: int
    heads: int
    len_q: int
    len_k: int
    head_dim: int
    seed: int

    def describe(self) -> dict[str, object]:
        return {
            "query_shape": (self.batch, self.heads, self.len_q, self.head_dim),
            "key_shape": (self.batch, self.heads, self.len_k, self.head_dim),
            "seed": self.seed,
        }


Shape = TypeVar("Shape", "ModelShape", "TokenShape")
"""A drawn shape with a sequence length ``seq``."""


def seeds() -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=2**16)


def attn_shapes(
    *, cross: bool = False, min_len: int = 1, max_len: int = 12
) -> st.SearchStrategy[AttnShape]:
    """(B, H, Lq, Lk, d) with Lq == Lk unless ``cross`` (then they differ)."""

    @st.composite
    def build(draw: st.DrawFn) -> AttnShape:
        len_q = draw(st.integers(min_len, max_len))
        len_k = len_q
        if cross:
            len_k = draw(st.integers(1, max_len).filter(lambda n: n != len_q))
        return AttnShape(
            batch=draw(st.integers(1, 3)),
            heads=draw(st.integers(1, 4)),
            len_q=len_q,
            len_k=len_k,
            head_dim=draw(st.integers(1, 16)),
            seed=draw(seeds()),
        )

    return build()


@dataclass(frozen=True)
class ModelShape:
    """Sizes of a module under test: batch, sequence, heads and width per head."""

    batch: int
    seq: int
    heads: int
    head_dim: int
    seed: int

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim

    def describe(self) -> dict[str, object]:
        return {
            "input_shape": (self.batch, self.seq, self.dim),
            "n_heads": self.heads,
            "seed": self.seed,
        }


def model_shapes(
    *,
    min_seq: int = 1,
    max_seq: int = 10,
    heads: tuple[int, ...] = (1, 2, 4),
    min_head_dim: int = 1,
) -> st.SearchStrategy[ModelShape]:
    return st.builds(
        ModelShape,
        batch=st.integers(1, 3),
        seq=st.integers(min_seq, max_seq),
        heads=st.sampled_from(heads),
        head_dim=st.integers(min_head_dim, 8),
        seed=seeds(),
    )


def with_cut(shapes: st.SearchStrategy[Shape]) -> st.SearchStrategy[tuple[Shape, int]]:
    """(shape, t) with 0 <= t <= seq - 2: a causal property perturbs the inputs after t.
    ``shapes`` must draw ``seq >= 2``."""
    return shapes.flatmap(lambda s: st.tuples(st.just(s), st.integers(0, s.seq - 2)))


@dataclass(frozen=True)
class TokenShape:
    """A batch of token ids for a whole model: (batch, seq), drawn from ``seed``."""

    batch: int
    seq: int
    seed: int

    def describe(self) -> dict[str, object]:
        return {"tokens_shape": (self.batch, self.seq), "seed": self.seed}


def token_shapes(*, min_seq: int = 2, max_seq: int = 12) -> st.SearchStrategy[TokenShape]:
    return st.builds(
        TokenShape, batch=st.integers(1, 3), seq=st.integers(min_seq, max_seq), seed=seeds()
    )


def randn(
    *shape: int, seed: int, dtype: torch.dtype = torch.float64, scale: float = 1.0
) -> torch.Tensor:
    """Standard normal values, reproducible from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=dtype) * scale


def qkv(
    shape: AttnShape, dtype: torch.dtype = torch.float64, scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Query (B, H, Lq, d), key and value (B, H, Lk, d)."""
    b, h, lq, lk, d = shape.batch, shape.heads, shape.len_q, shape.len_k, shape.head_dim
    q = randn(b, h, lq, d, seed=shape.seed, dtype=dtype, scale=scale)  # (B, H, Lq, d)
    k = randn(b, h, lk, d, seed=shape.seed + 1, dtype=dtype, scale=scale)  # (B, H, Lk, d)
    v = randn(b, h, lk, d, seed=shape.seed + 2, dtype=dtype)  # (B, H, Lk, d)
    return q, k, v
