"""Bug: the block applies its first LayerNorm after both sublayers; the second is built but
never used (invisible while both norms hold their initial ones and zeros)."""

# `EncoderBlock` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["encoder_block.matches_reference", "encoder_block.every_parameter_matters"]
MAY_CATCH = []


class EncoderBlock(EncoderBlock):
    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = self.norm1(x + self._self_attention(x, mask))
        x = self.norm1(x + self._feed_forward(x))
        return x
