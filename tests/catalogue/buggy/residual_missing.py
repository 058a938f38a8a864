"""Bug: the attention sublayer has no residual connection: norm1(attn(x)) instead of
norm1(x + attn(x))."""

# `EncoderBlock` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["encoder_block.matches_reference"]
MAY_CATCH = []


class EncoderBlock(EncoderBlock):
    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = self.norm1(self._self_attention(x, mask))  # the residual x + ... is missing
        x = self.norm2(x + self._feed_forward(x))
        return x
