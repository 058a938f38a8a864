"""Find the query/key/value/output projections inside a candidate's multi-head attention,
and rebuild the reference multi-head attention from them in the grader.

Candidates name their layers as they like (``linear_query``, ``w_q``, ``qkv``...), so names
only give a first guess. The roles are settled by behaviour: the grader calls the
candidate's module once and keeps the assignment of layers to roles whose reference output
matches. Supported layouts, each with a ``(dim, dim)`` output layer:

- three square ``Linear`` layers (query, key, value);
- fused layers whose rows stack several projections: ``(3 * dim, dim)`` (``qkv``, packed
  ``in_proj_weight``) or ``(dim, dim)`` plus ``(2 * dim, dim)`` (``to_q`` and ``to_kv``), the
  rows either projection by projection (``view(B, L, 3, H, d)``) or interleaved head by head
  (``view(B, L, H, 3, d)``, as Bloom and Megatron lay them out);
- one module per head: ``3 * n_heads`` layers of ``(dim // n_heads, dim)``, stacked head by
  head into the full projections (Karpathy's ``Head`` modules).
"""

from __future__ import annotations

import itertools
import math
import re
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


def candidates(state: dict[str, torch.Tensor], dim: int, n_heads: int) -> list[Projections]:
    """Every plausible assignment of layers to roles, the name-based guess first."""
    layers = [lin for lin in linears(state) if lin.weight.size(1) == dim]
    options: list[Projections] = []
    for out in (lin for lin in layers if tuple(lin.weight.shape) == (dim, dim)):
        rest = [lin for lin in layers if lin is not out]
        for inputs in input_layouts(rest, dim, n_heads):
            options += [Projections(*perm, out) for perm in itertools.permutations(inputs)]
    options.sort(key=lambda p: -name_score(p))
    return options


def input_layouts(layers: list[Linear], dim: int, n_heads: int) -> list[list[Linear]]:
    """The ways ``layers`` can be read as three ``(dim, dim)`` input projections: fused
    layers split projection by projection or head by head, per-head layers stacked."""
    parts = [lin.weight.size(0) // dim for lin in layers]
    if layers and all(lin.weight.size(0) == k * dim for lin, k in zip(layers, parts, strict=True)):
        if sum(parts) != 3:
            return []
        splits = [
            split_fused(lin, k, n_heads) if k > 1 else [[lin]]
            for lin, k in zip(layers, parts, strict=True)
        ]
        return [[p for group in combo for p in group] for combo in itertools.product(*splits)]
    stacked = per_head(layers, dim, n_heads)
    return [stacked] if stacked else []


def split_fused(layer: Linear, parts: int, n_heads: int) -> list[list[Linear]]:
    """A ``(parts * dim, dim)`` layer as ``parts`` projections: its rows in blocks, one
    projection after another, and (with several heads) interleaved, each head's ``parts``
    slices of ``head_dim`` rows side by side."""
    dim = layer.weight.size(0) // parts
    layouts = [((parts, 1, dim), 0)]  # (the rows' layout, the axis that names the projection)
    if n_heads > 1 and dim % n_heads == 0:
        layouts.append(((n_heads, parts, dim // n_heads), 1))
    found = []
    for layout, by_part in layouts:
        weight = layer.weight.reshape(*layout, -1).movedim(by_part, 0)  # (parts, H, d, in)
        bias = None if layer.bias is None else layer.bias.reshape(layout).movedim(by_part, 0)
        tag = "" if by_part == 0 else ", per head"
        found.append(
            [
                Linear(
                    f"{layer.name}[{i}{tag}]",
                    weight[i].reshape(dim, -1),
                    None if bias is None else bias[i].reshape(dim),
                )
                for i in range(parts)
            ]
        )
    return found


def per_head(layers: list[Linear], dim: int, n_heads: int) -> list[Linear]:
    """Three ``n_heads``-layer groups of ``(dim // n_heads, dim)`` layers (one module per
    head), each stacked in head order into a ``(dim, dim)`` projection; empty when the layers
    are not that. Grouped by name with the head index left out (``heads.0.key`` and
    ``heads.1.key``), else by position within each head."""
    head_dim = dim // n_heads
    if n_heads < 2 or dim % n_heads or len(layers) != 3 * n_heads:
        return []
    if any(tuple(lin.weight.shape) != (head_dim, dim) for lin in layers):
        return []
    groups: dict[str, list[Linear]] = {}
    for lin in layers:
        groups.setdefault(re.sub(r"(^|\.)\d+(?=\.|$)", r"\1*", lin.name), []).append(lin)
    if len(groups) != 3 or any(len(g) != n_heads for g in groups.values()):
        groups = {f"{layers[i].name}+": layers[i::3] for i in range(3)}  # k, q, v per head
    return [stack(name, group) for name, group in groups.items()]


def stack(name: str, group: list[Linear]) -> Linear:
    biases = [lin.bias for lin in group]
    bias = None if any(b is None for b in biases) else torch.cat(biases)  # type: ignore[arg-type]
    return Linear(name, torch.cat([lin.weight for lin in group]), bias)


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
    score_scale: float | None = None,
) -> torch.Tensor:
    """Reference multi-head attention with the candidate's projections.

    query (B, Lq, D), key/value (B, Lk, D); keep: True = may attend, broadcastable to
    (B, H, Lq, Lk). Heads take contiguous slices of D, as `view(B, L, H, d)` does.
    ``score_scale`` replaces the 1/sqrt(head_dim) of the scores (to name a wrong scaling).
    """
    batch, len_q, dim = query.shape
    head_dim = dim // n_heads

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.view(batch, -1, n_heads, head_dim).transpose(1, 2)  # (B, H, L, d)

    q, k, v = split(p.query(query)), split(p.key(key)), split(p.value(value))
    if score_scale is not None:  # the reference divides by sqrt(head_dim): undo, then scale
        q = q * (score_scale * math.sqrt(head_dim))
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
    score_scale: float | None = None,
) -> Projections | None:
    """The assignment of layers whose reference output matches the candidate's ``output``
    for self-attention on ``x``; None when none does."""
    for option in candidates(state, dim, n_heads):
        expected = multi_head(x, x, x, option, n_heads, score_scale=score_scale)
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
    for option in candidates(state, dim, n_heads):
        expected = multi_head(x, x, x, option, n_heads)
        if expected.shape != output.shape:
            continue
        diff = float((expected - output.to(expected.dtype)).abs().nan_to_num(float("inf")).max())
        if best is None or diff < best[1]:
            best = (option, diff)
    return best


def wrong_scaling(
    state: dict[str, torch.Tensor],
    dim: int,
    n_heads: int,
    x: torch.Tensor,
    output: torch.Tensor,
    atol: float,
) -> str | None:
    """The usual wrong scaling of the scores that ``output`` reproduces exactly, in words
    (None when none does): a module that computes its attention inline can get it wrong
    even when the attention function it was given is right."""
    head_dim = dim // n_heads
    variants = {
        "1/head_dim instead of 1/sqrt(head_dim)": 1 / head_dim,
        "1 (no scaling) instead of 1/sqrt(head_dim)": 1.0,
        "1/sqrt(dim), the model width, instead of 1/sqrt(head_dim) per head": 1 / math.sqrt(dim),
    }
    for words, scale in variants.items():
        if math.isclose(scale, 1 / math.sqrt(head_dim)):
            continue  # the same as the right scaling for this shape
        if identify(state, dim, n_heads, x, output, atol, score_scale=scale) is not None:
            return words
    return None
