"""Mask conventions: tell which one a candidate uses, and speak it back to them.

A correct candidate may express "position i may attend to position j" in several ways, and
the checks must accept all of them. We never compare a candidate's mask tensor with ours;
we identify its convention from a causal mask it produced, then build the masks a property
needs *in that convention* and hand them to the candidate's own attention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Convention = Literal["keep-bool", "block-bool", "additive", "keep-float", "block-float"]

DESCRIPTIONS: dict[str, str] = {
    "keep-bool": "boolean, True = may attend",
    "block-bool": "boolean, True = blocked (the nn.MultiheadAttention convention)",
    "additive": "additive float, 0 = may attend and -inf (or a large negative) = blocked",
    "keep-float": "float 0/1, 1 = may attend (used with masked_fill(mask == 0, ...))",
    "block-float": "float 0/1, 1 = blocked",
}

LARGE_NEGATIVE = -1e4
"""Additive masks with -1e9 or finfo.min instead of -inf are as good as -inf after softmax."""


@dataclass(frozen=True)
class MaskStyle:
    """A candidate's mask convention and the leading dimensions they give it."""

    convention: Convention
    leading: tuple[int, ...] = ()
    """Leading singleton dims, e.g. (1,) for a (1, L, L) mask."""
    dtype: torch.dtype = torch.bool

    def describe(self) -> str:
        shape = ", ".join(["1"] * len(self.leading) + ["L", "L"])
        return f"{DESCRIPTIONS[self.convention]}, shape ({shape})"

    def encode(self, keep: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Express a keep-mask (True = may attend, (..., L, L)) in this convention."""
        keep = keep.bool()
        float_dtype = (
            dtype
            if dtype is not None and dtype.is_floating_point
            else (self.dtype if self.dtype.is_floating_point else torch.float32)
        )
        if self.convention == "keep-bool":
            mask = keep
        elif self.convention == "block-bool":
            mask = ~keep
        elif self.convention == "additive":
            mask = torch.zeros(keep.shape, dtype=float_dtype).masked_fill(~keep, float("-inf"))
        elif self.convention == "keep-float":
            mask = keep.to(float_dtype)
        else:  # block-float
            mask = (~keep).to(float_dtype)
        return mask.reshape(*self.leading, *mask.shape) if keep.dim() == 2 else mask


def identify(mask: object, length: int) -> MaskStyle | str:
    """Identify the convention of a causal mask for ``length`` positions.

    Returns a `MaskStyle`, or a sentence saying why the tensor is not a causal mask.
    """
    if not isinstance(mask, torch.Tensor):
        return f"expected a tensor, got {type(mask).__name__}"
    if mask.dim() < 2 or tuple(mask.shape[-2:]) != (length, length):
        return f"expected a ({length}, {length}) mask (with optional leading 1s), got shape {tuple(mask.shape)}"
    leading = tuple(mask.shape[:-2])
    if any(d != 1 for d in leading):
        return f"leading dimensions {leading} are not broadcastable singletons"
    square = mask.reshape(length, length)
    lower = torch.ones(length, length, dtype=torch.bool).tril()  # True on and below the diagonal
    if square.dtype == torch.bool:
        if torch.equal(square, lower):
            return MaskStyle("keep-bool", leading, torch.bool)
        if torch.equal(square, ~lower):
            return MaskStyle("block-bool", leading, torch.bool)
        return (
            "a boolean mask that is neither lower-triangular (keep) nor strictly upper (block)"
            + (near_miss(square))
        )
    values = square.double()
    blocked = values <= LARGE_NEGATIVE
    if bool((values[lower] == 0).all()) and bool(blocked[~lower].all()):
        return MaskStyle("additive", leading, square.dtype)
    if torch.equal(values, lower.double()):
        return MaskStyle("keep-float", leading, square.dtype)
    if torch.equal(values, (~lower).double()):
        return MaskStyle("block-float", leading, square.dtype)
    return "a float mask that is neither additive 0/-inf nor 0/1 lower- or upper-triangular" + (
        near_miss(square)
    )


def near_miss(square: torch.Tensor) -> str:
    """What a mask that is not causal lets each position see, when it is a triangle off by
    some diagonals in one of the conventions (``triu(..., diagonal=2)`` lets position i see
    token i + 1, the next token it must predict); empty when it is not."""
    length = square.size(-1)
    if square.dtype == torch.bool:
        readings = {"keep": square, "block": ~square}
    else:
        values = square.double()
        readings = {}
        if bool(((values == 0) | (values == 1)).all()):
            readings = {"keep": values == 1, "block": values == 0}
        elif bool((values <= LARGE_NEGATIVE).any()):
            readings = {"additive": values > LARGE_NEGATIVE}
    ones = torch.ones(length, length, dtype=torch.bool)
    for reading, keep in readings.items():
        for offset in range(2 - length, length - 1):  # not all seen, not none
            if offset == 0 or not torch.equal(keep, ones.tril(offset)):
                continue
            if offset > 0:
                seen = "the next token" if offset == 1 else f"the next {offset} tokens"
                return (
                    f"; read as {article(reading)} mask it lets position i see {seen} (up to i + "
                    f"{offset}), later positions it must not see: the diagonal is off by {offset} "
                    "(torch.triu(..., diagonal=1) marks exactly the later positions)"
                )
            return (
                f"; read as {article(reading)} mask it hides position i from itself"
                + (" and earlier tokens" if offset < -1 else "")
                + f": the diagonal is off by {-offset} (each position must see itself)"
            )
    return ""


def causal_keep(length: int) -> torch.Tensor:
    """(length, length) keep-mask: position i may attend to positions j <= i."""
    return torch.ones(length, length, dtype=torch.bool).tril()


def article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"
