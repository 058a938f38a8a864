"""Bug: the feed-forward sublayer reads the block's input x, not the attention sublayer's output."""

# `EncoderBlock` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["encoder_block.matches_reference"]
MAY_CATCH = []


class EncoderBlock(EncoderBlock):
    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        hidden = self.norm1(x + self._self_attention(x, mask))
        return self.norm2(hidden + self._feed_forward(x))
