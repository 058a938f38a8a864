"""Bug: the causal mask is built with the diagonal off by one (the Annotated Transformer's
`triu(..., diagonal=2) == 0`): each position also sees the next token, the one it is trained
to predict."""

import torch
from torch import Tensor

CATCHES = ["causal_mask.convention"]
MAY_CATCH = [
    "attention.matches_reference_masked",
    "causal_mask.attends_self",
    "causal_mask.length_one",
    "causal_mask.causal",
    "causal_mask.other_length",
    "multi_head_attention.causal",
    "encoder_block.causal",
    "training.model_causal",
    "training.loss_decreases",
    "training.not_too_good",
]


def generate_square_subsequent_mask(size: int) -> Tensor:
    return torch.ones(size, size).triu(diagonal=2) == 0  # True where i may attend j: j <= i + 1
