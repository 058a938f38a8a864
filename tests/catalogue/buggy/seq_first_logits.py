"""Bug: batch-first/seq-first confusion in the model: it transposes its logits to the
tutorial's seq-first layout, returning (seq, batch, ntoken) instead of (batch, seq, ntoken)."""

# `TransformerModelManualAttn` is base.py's class, which precedes this entry.
# ruff: noqa: F821

from torch import Tensor

CATCHES = ["training.model_output_shape"]
MAY_CATCH = [
    "training.model_causal",
    "training.model_uses_positions",
    "training.model_batch_independent",
    "training.runs",
    "training.loss_decreases",
    "training.candidate_loop",
]


class TransformerModelManualAttn(TransformerModelManualAttn):
    def forward(self, src: Tensor, src_mask: Tensor | None = None) -> Tensor:
        logits = super().forward(src, src_mask)  # (batch, seq, ntoken)
        return logits.transpose(0, 1)  # (seq, batch, ntoken): the wrong layout
