"""Candidate-style models of the positional-encoding test with a bug in how they use positions,
shared by the tests of its property suite and of its training check (appended as source text
to the reference's answer, so they run only in the sandboxed worker)."""

POSITION_BUGS = '''

class BlindModel(nn.Module):
    """Bug: self-attention and mean pooling with no positional encoding at all."""

    def __init__(self, seq_len: int, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.readout = nn.Linear(d_model, 1)

    def forward(self, x: Tensor) -> Tensor:
        attended, _ = self.attention(x, x, x)
        return self.readout(attended.mean(dim=1))


class PerPositionModel(SelfAttentionModel):
    """Bug: one prediction per position, (batch, seq, 1), not one per sequence."""

    def forward(self, x: Tensor) -> Tensor:
        x = self.positional_encoding(x)
        return self.readout(x + self.attention(x, x, x))
'''
