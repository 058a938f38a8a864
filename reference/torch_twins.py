"""The reference's twins built from PyTorch's own modules, and weight copying between them.

With the same weights, `MultiHeadSelfAttention` computes what ``nn.MultiheadAttention``
does, `EncoderBlock` what ``nn.TransformerEncoderLayer`` does (post-norm, batch-first) and
`TransformerLM` what `TorchTransformerLM` does. The tests use these to hold the reference to
PyTorch, and the benchmark to time the reference against PyTorch's fused implementations.

PyTorch's attention masks read a boolean True as *blocked*; the reference's read it as
*kept*. `TorchTransformerLM` accepts the reference's masks and converts them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reference.attention import MultiHeadSelfAttention
from reference.encoder import EncoderBlock
from reference.masks import to_additive
from reference.model import TransformerLM


@torch.no_grad()
def copy_attention_weights(ours: MultiHeadSelfAttention, theirs: nn.MultiheadAttention) -> None:
    """Give ``ours`` the weights of ``theirs``, whose packed input projection stacks the
    query, key and value projections, in that order, along its rows."""
    projections = (ours.linear_query, ours.linear_key, ours.linear_value)
    weights = theirs.in_proj_weight.chunk(3)  # 3 x (dim, dim)
    biases = theirs.in_proj_bias.chunk(3)  # 3 x (dim,)
    for linear, weight, bias in zip(projections, weights, biases, strict=True):
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    ours.linear_cat_attn.load_state_dict(theirs.out_proj.state_dict())


@torch.no_grad()
def copy_block_weights(ours: EncoderBlock, theirs: nn.TransformerEncoderLayer) -> None:
    """Give ``ours`` the weights of ``theirs`` (attention, both linears, both norms)."""
    copy_attention_weights(ours.attn, theirs.self_attn)
    ours.linear1.load_state_dict(theirs.linear1.state_dict())
    ours.linear2.load_state_dict(theirs.linear2.state_dict())
    ours.norm1.load_state_dict(theirs.norm1.state_dict())
    ours.norm2.load_state_dict(theirs.norm2.state_dict())


class TorchEncoder(nn.Module):
    """``nn.TransformerEncoder`` called with a reference mask (converted to additive)."""

    def __init__(self, d_model: int, nhead: int, d_hid: int, nlayers: int, dropout: float):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout, batch_first=True)
        # Nested tensors only pay off with padding masks, which a language model has none of.
        self.encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """(batch, seq, d_model) -> (batch, seq, d_model)."""
        additive = None if mask is None else to_additive(mask, x.dtype)  # (seq, seq)
        return self.encoder(x, mask=additive)


class TorchTransformerLM(TransformerLM):
    """`TransformerLM` with its encoder stack replaced by ``nn.TransformerEncoder``."""

    def build_encoder(
        self, d_model: int, nhead: int, d_hid: int, nlayers: int, dropout: float
    ) -> nn.Module:
        """PyTorch's encoder stack in place of the reference's."""
        return TorchEncoder(d_model, nhead, d_hid, nlayers, dropout)


@torch.no_grad()
def copy_lm_weights(ours: TransformerLM, theirs: TorchTransformerLM) -> None:
    """Give ``ours`` every weight of ``theirs``: embedding, blocks and output head."""
    ours.embedding.load_state_dict(theirs.embedding.state_dict())
    ours.linear.load_state_dict(theirs.linear.state_dict())
    their_layers = theirs.transformer_encoder.encoder.layers
    for block, layer in zip(ours.transformer_encoder.blocks, their_layers, strict=True):
        copy_block_weights(block, layer)
