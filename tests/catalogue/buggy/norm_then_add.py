"""Bug: the residual is added after the norm, norm(x) + f(x), where the handout asks for norm(x + f(x))."""

# `EncoderBlock` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["encoder_block.matches_reference"]
MAY_CATCH = []


class EncoderBlock(EncoderBlock):
    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = self.norm1(x) + self._self_attention(x, mask)
        x = self.norm2(x) + self._feed_forward(x)
        return x
