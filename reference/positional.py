"""Positional encodings: fixed sinusoids (Vaswani et al. 2017, §3.5) and a learnable table.

Self-attention is permutation-equivariant: without positional information a model cannot
tell "dog bites man" from "man bites dog". Both encodings add a (max_len, d_model) table to
batch-first inputs (batch, seq, d_model), one row per position, the same for every sequence
of the batch; they differ only in whether the table is fixed or learned.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

SINUSOID_BASE = 10000.0
"""Longest wavelength of the sinusoids, over 2*pi (the paper's 10000)."""

LEARNABLE_INIT_STD = 0.02
"""Standard deviation of the learnable table at initialisation: small beside unit-scale
embeddings, so training starts close to "no positional information" and learns what it needs
(the value GPT-2 uses)."""


class AddedPositionalEncoding(nn.Module):
    """Adds rows ``[0, seq)`` of ``self.table`` (max_len, d_model) to the input, then dropout.

    Subclasses register ``table`` as a buffer (fixed) or as a parameter (learned).
    """

    table: Tensor

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    @property
    def max_len(self) -> int:
        """The longest sequence the table covers."""
        return self.table.size(0)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, seq, d_model) -> (batch, seq, d_model), for any seq <= max_len."""
        seq_len = x.size(1)
        if seq_len > self.max_len:
            raise ValueError(
                f"sequence of length {seq_len} is longer than the positional encoding's "
                f"max_len={self.max_len}; build it with a larger max_len"
            )
        # (seq, d_model) broadcasts over the batch dimension.
        return self.dropout(x + self.table[:seq_len])  # (batch, seq, d_model)


class SinusoidalPositionalEncoding(AddedPositionalEncoding):
    """Fixed encoding: ``PE[pos, 2i] = sin(pos / 10000^(2i/d))``, ``PE[pos, 2i+1] = cos(...)``."""

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000) -> None:
        """
        :param d_model: width of the inputs.
        :param dropout: dropout probability applied after adding the encoding.
        :param max_len: longest sequence supported.
        """
        super().__init__(dropout)
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (max_len, 1)
        # Frequencies 1 / 10000^(2i/d), computed in log space to stay exact for large d.
        exponent = torch.arange(0, d_model, 2, dtype=torch.float32) / d_model  # (ceil(d/2),)
        frequency = torch.exp(-math.log(SINUSOID_BASE) * exponent)  # (ceil(d/2),)
        angle = position * frequency  # (max_len, ceil(d/2))
        table = torch.zeros(max_len, d_model)  # (max_len, d_model)
        table[:, 0::2] = torch.sin(angle)
        table[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # odd d_model has one cos fewer
        # A buffer moves with .to(device) and is saved in the state dict, but is not trained.
        self.register_buffer("table", table)


class LearnablePositionalEncoding(AddedPositionalEncoding):
    """Learned encoding: one trainable d_model-vector per position, from 0 to max_len - 1."""

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0) -> None:
        """
        :param max_len: longest sequence supported (rows of the table).
        :param d_model: width of the inputs.
        :param dropout: dropout probability applied after adding the encoding.
        """
        super().__init__(dropout)
        self.table = nn.Parameter(torch.randn(max_len, d_model) * LEARNABLE_INIT_STD)
