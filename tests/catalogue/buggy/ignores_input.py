"""Bug: the model ignores its input and returns the output layer's bias at every position, a
learned unigram distribution and nothing more."""

# `TransformerModelManualAttn` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["training.model_uses_positions"]
MAY_CATCH = ["training.loss_decreases"]


class TransformerModelManualAttn(TransformerModelManualAttn):
    def forward(self, src: Tensor, src_mask: Tensor | None = None) -> Tensor:
        batch, seq = src.shape
        return self.linear.bias.expand(batch, seq, -1)  # (batch, seq, ntoken), input unused
