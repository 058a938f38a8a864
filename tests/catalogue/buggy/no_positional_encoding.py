"""Bug: the positional encoding adds nothing (the candidate left it out), so the model has no
positional information and a causal model cannot tell the order of earlier tokens."""

from torch import Tensor, nn

CATCHES = ["training.model_uses_positions"]
MAY_CATCH = ["training.not_too_good"]


class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x)  # no position added
