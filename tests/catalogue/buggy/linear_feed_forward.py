"""Bug: the feed-forward has no activation between its two linear layers."""

# `EncoderBlock` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["encoder_block.matches_reference"]
MAY_CATCH = []


class EncoderBlock(EncoderBlock):
    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = self.norm1(x + self._self_attention(x, mask))
        x = self.norm2(x + self.dropout2(self.linear2(self.dropout(self.linear1(x)))))
        return x
