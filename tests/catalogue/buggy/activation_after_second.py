"""Bug: the feed-forward applies its activation after the second linear layer instead of
between the two, so the block's output is a linear function of the hidden layer."""

# `EncoderBlock` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["encoder_block.matches_reference"]
MAY_CATCH = []


class EncoderBlock(EncoderBlock):
    def _feed_forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout(self.linear1(x))
        return self.dropout2(self.activation(self.linear2(hidden)))
