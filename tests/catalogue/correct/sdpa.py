"""Correct, library style: attention delegates to F.scaled_dot_product_attention, whose
boolean mask has the base's meaning (True = may attend)."""

import torch.nn.functional as F
from torch import Tensor, nn


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    """Scaled dot-product attention through PyTorch's fused kernel.

    The kernel takes a dropout rate, not a module: use the module's rate only while it is in
    training mode, as the module itself would.
    """
    dropout_p = dropout.p if dropout is not None and dropout.training else 0.0
    return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout_p)
