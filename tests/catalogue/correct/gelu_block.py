"""Correct (style): the encoder block's feed-forward uses GELU (as GPT-2 and BERT do) instead of the
handout's ReLU: a designer's choice, not a mistake; the structure (residual, then norm) is the
handout's."""

# `EncoderBlock` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import nn

DIFFERS_FROM_BASE = ["block", "block_random", "model", "model_swap"]


class EncoderBlock(EncoderBlock):
    def __init__(self, attn, d_model, dim_feedforward, layer_norm_eps=1e-5, dropout=0.1):
        super().__init__(attn, d_model, dim_feedforward, layer_norm_eps, dropout)
        self.activation = nn.GELU()
