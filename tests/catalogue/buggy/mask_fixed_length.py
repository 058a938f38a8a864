"""Bug: the mask function ignores its argument and always builds the mask for 35 tokens (the
handout's window), so any other length fails."""

import torch
from torch import Tensor

CATCHES = ["causal_mask.convention", "causal_mask.other_length", "causal_mask.length_one"]
MAY_CATCH = [
    "attention.matches_reference_masked",
    "causal_mask.causal",
    "causal_mask.attends_self",
    "multi_head_attention.causal",
    "encoder_block.causal",
    "training.model_causal",
    "training.runs",
    "training.loss_decreases",
    "training.not_too_good",
    "training.candidate_loop",
]


def generate_square_subsequent_mask(size: int = 35) -> Tensor:
    return torch.ones(35, 35, dtype=torch.bool).tril()  # `size` is never used
