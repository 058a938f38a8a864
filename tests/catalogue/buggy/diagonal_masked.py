"""Bug: the mask also blocks the diagonal (a strict triangle), so no position attends to
itself and the first position, with nothing left to attend, turns to NaN."""

import torch
from torch import Tensor

CATCHES = ["causal_mask.convention", "training.model_causal"]
MAY_CATCH = [
    "attention.matches_reference_masked",
    "causal_mask.attends_self",
    "causal_mask.length_one",
    "causal_mask.causal",
    "causal_mask.other_length",
    "multi_head_attention.causal",
    "encoder_block.causal",
    "training.runs",
    "training.loss_decreases",
    "training.not_too_good",
    "training.candidate_loop",
]


def generate_square_subsequent_mask(size: int) -> Tensor:
    return torch.ones(size, size, dtype=torch.bool).tril(diagonal=-1)  # should be diagonal=0
