"""Find the query/key/value/output projections inside a candidate's multi-head attention,
and rebuild the reference multi-head attention from them in the grader.

Candidates name their layers as they like (``linear_query``, ``w_q``, ``qkv``...), so names
only give a first guess. The roles are settled by behaviour: the grader calls the
candidate's module once and keeps the assignment of layers to roles whose reference output
matches. Supported layouts: four square ``Linear`` layers, a fused ``(3 * dim, dim)``
projection plus an output layer, and ``nn.MultiheadAttention`` parameter names.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reference.attention import attention as reference_attention

ROLES = ("query", "key", "value", "out")
NAME_HINTS: dict[str, tuple[str, ...]] = {
    "query": ("query", "q"),
    "key": ("key", "k"),
    "value": ("value", "v"),
    "out": ("out", "o", "proj", "cat", "fc", "dense", "combine", "merge", "output"),
}


@dataclass(frozen=True)
class Linear:
    """A weight (out, in) and an optional bias (out,)."""

    name: str
    weight: torch.Tensor
    bias: torch.Tensor | None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(
            x, self.weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype)
        )


@dataclass(frozen=True)
class Projections:
    """The four projections of a multi-head attention, by role."""

    query: Linear
    key: Linear
    value: Linear
    out: Linear

    def describe(self) -> str:
        return ", ".join(f"{role}={getattr(self, role).name}" for role in ROLES)


def linears(state: dict[str, torch.Tensor]) -> list[Linear]:
    """Every (weight, bias) pair in a state dict, in module order."""
    found = []
    for key, weight in state.items():
        if key.endswith("weight") and weight.dim() == 2:
            prefix = key[: -len("weight")]
            found.append(Linear(prefix.rstrip("._") or key, weight, state.get(prefix + "bias")))
    return found


def candidates(state: dict[str, torch.Tensor], dim: int) -> list[Projections]:
    """Every plausible assignment of layers to roles, the name-based guess first."""
    layers = linears(state)
    square = [lin for lin in layers if tuple(lin.weight.shape) == (dim, dim)]
    fused = [lin for lin in layers if tuple(lin.weight.shape) == (3 * dim, dim)]
    options: list[Projections] = []
    if len(square) == 4:
        for perm in itertools.permutations(square):
            options.append(Projections(*perm))
    elif len(fused) == 1 and len(square) == 1:
        parts = split_fused(fused[0], dim)
        for perm in itertools.permutations(parts):
            options.append(Projections(*perm, square[0]))
    options.sort(key=lambda p: -name_score(p))
    return options


def split_fused(layer: Linear, dim: int) -> list[Linear]:
    weights = layer.weight.split(dim, dim=0)
    biases = layer.bias.split(dim) if layer.bias is not None else (None, None, None)
    return [
        Linear(f"{layer.name}[{i}]", w, b)
        for i, (w, b) in enumerate(zip(weights, biases, strict=True))
    ]


def name_score(p: Projections) -> int:
    """How many roles the layer names agree with (a tie-breaker, never a verdict)."""
    score = 0
    for role in ROLES:
        words = getattr(p, role).name.lower().replace(".", "_").split("_")
        score += any(hint in words or words[-1].endswith(hint) for hint in NAME_HINTS[role])
    return score


def multi_head(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    p: Projections,
    n_heads: int,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reference multi-head attention with the candidate's projections.

    query (B, Lq, D), key/value (B, Lk, D); keep: True = may attend, broadcastable to
    (B, H, Lq, Lk). Heads take contiguous slices of D, as `view(B, L, H, d)` does.
    """
    batch, len_q, dim = query.shape
    head_dim = dim // n_heads

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.view(batch, -1, n_heads, head_dim).transpose(1, 2)  # (B, H, L, d)

    q, k, v = split(p.query(query)), split(p.key(key)), split(p.value(value))
    heads = reference_attention(q, k, v, mask=keep)  # (B, H, Lq, d)
    merged = heads.transpose(1, 2).reshape(batch, len_q, dim)  # (B, Lq, D)
    return p.out(merged)


def identify(
    state: dict[str, torch.Tensor],
    dim: int,
    n_heads: int,
    x: torch.Tensor,
    output: torch.Tensor,
    atol: float,
) -> Projections | None:
    """The assignment of layers whose reference output matches the candidate's ``output``
    for self-attention on ``x``; None when none does."""
    for option in candidates(state, dim):
        expected = multi_head(x, x, x, option, n_heads)
        if expected.shape == output.shape and torch.allclose(
            expected, output.to(expected.dtype), atol=atol, rtol=1e-4
        ):
            return option
    return None


def closest(
    state: dict[str, torch.Tensor], dim: int, n_heads: int, x: torch.Tensor, output: torch.Tensor
) -> tuple[Projections, float] | None:
    """The assignment of layers whose reference output is nearest ``output``, and its largest
    absolute difference: the counterexample when `identify` finds no match."""
    best: tuple[Projections, float] | None = None
    for option in candidates(state, dim):
        expected = multi_head(x, x, x, option, n_heads)
        if expected.shape != output.shape:
            continue
        diff = float((expected - output.to(expected.dtype)).abs().nan_to_num(float("inf")).max())
        if best is None or diff < best[1]:
            best = (option, diff)
    return best
