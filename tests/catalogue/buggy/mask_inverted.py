"""Bug: the mask function returns the inverted mask (True above the diagonal) while attention
reads True as "may attend", so each position sees only the future and the last one nothing."""

import torch
from torch import Tensor

CATCHES = [
    "attention.matches_reference_masked",
    "causal_mask.causal",
    "causal_mask.attends_self",
    "causal_mask.length_one",
    "multi_head_attention.causal",
    "encoder_block.causal",
    "training.model_causal",
]
MAY_CATCH = ["causal_mask.convention", "training.loss_decreases", "training.not_too_good"]


def generate_square_subsequent_mask(size: int) -> Tensor:
    return ~torch.ones(size, size, dtype=torch.bool).tril()  # should not be inverted
