"""Bug: the tutorial's seq-first positional encoding is used on batch-first input, so it adds
one vector per batch row, the same at every position: the model has no positional
information."""

import math

import torch
from torch import Tensor, nn

CATCHES = ["training.model_uses_positions"]
MAY_CATCH = ["training.model_batch_independent", "training.not_too_good"]


class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)  # seq-first layout
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", pe)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x + self.pe[: x.size(0)])  # x.size(0) is the batch here
