"""Attention masks: the causal mask and conversions between the three mask conventions.

Three conventions are in common use, and a correct candidate may pick any of them:

- ``keep``: boolean, True where a query may attend to a key (the handout's convention, where
  ``mask == 0`` marks a blocked pair; also what ``F.scaled_dot_product_attention`` expects);
- ``block``: boolean, True where the pair is blocked (what ``nn.MultiheadAttention`` expects);
- ``additive``: floating point, 0 where the pair is kept and ``-inf`` where it is blocked,
  added to the attention scores (what ``nn.Transformer.generate_square_subsequent_mask`` makes).

A boolean tensor alone cannot say whether it means keep or block, so the reference reads a
boolean mask as ``keep`` and a floating mask as ``additive`` unless told otherwise.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

MaskConvention = Literal["keep", "block", "additive"]


def causal_mask(size: int, device: torch.device | str | None = None) -> Tensor:
    """The (size, size) boolean mask that lets query ``i`` attend to keys ``j <= i``.

    True means "may attend" (the ``keep`` convention). Row ``i`` is the query position, so
    every row keeps at least its own position and no row is ever fully masked.
    """
    if size < 1:
        raise ValueError(f"a causal mask needs a length of at least 1, got {size}")
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()  # (size, size)


def infer_convention(mask: Tensor) -> MaskConvention:
    """The convention the reference assumes for ``mask``: ``keep`` if boolean, else ``additive``."""
    return "keep" if mask.dtype == torch.bool else "additive"


def to_keep(mask: Tensor, convention: MaskConvention | None = None) -> Tensor:
    """``mask`` as a boolean keep mask (True = may attend), same shape.

    ``convention`` names the convention ``mask`` is written in; by default it is inferred
    (boolean = keep, floating = additive). An additive mask keeps exactly its zero entries.
    """
    convention = convention or infer_convention(mask)
    if convention == "keep":
        return mask.bool()
    if convention == "block":
        return ~mask.bool()
    return mask == 0


def to_block(mask: Tensor, convention: MaskConvention | None = None) -> Tensor:
    """``mask`` as a boolean block mask (True = blocked), same shape."""
    return ~to_keep(mask, convention)


def to_additive(
    mask: Tensor,
    dtype: torch.dtype = torch.float32,
    convention: MaskConvention | None = None,
) -> Tensor:
    """``mask`` as an additive mask of ``dtype``: 0 where kept, ``-inf`` where blocked."""
    blocked = to_block(mask, convention)
    additive = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return additive.masked_fill_(blocked, float("-inf"))


def convert(
    mask: Tensor,
    target: MaskConvention,
    convention: MaskConvention | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """``mask`` written in the ``target`` convention (``dtype`` applies to ``additive`` only)."""
    if target == "keep":
        return to_keep(mask, convention)
    if target == "block":
        return to_block(mask, convention)
    return to_additive(mask, dtype, convention)
