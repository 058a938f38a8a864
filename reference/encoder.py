"""The transformer encoder block (post-LayerNorm, as in Vaswani et al. 2017) and a stack of them.

With the same weights and dropout off, `EncoderBlock` computes what
``nn.TransformerEncoderLayer(norm_first=False, batch_first=True)`` computes.
"""

from __future__ import annotations

import copy

from torch import Tensor, nn

from reference.attention import MultiHeadSelfAttention


class EncoderBlock(nn.Module):
    """Self-attention then a ReLU feed-forward network, each wrapped as ``norm(x + drop(f(x)))``."""

    def __init__(
        self,
        attn: MultiHeadSelfAttention,
        d_model: int,
        dim_feedforward: int,
        layer_norm_eps: float = 1e-5,
        dropout: float = 0.1,
    ) -> None:
        """
        :param attn: the self-attention sub-layer, called as ``attn(x, x, x, mask)``.
        :param d_model: width of the block's input and output.
        :param dim_feedforward: width of the feed-forward network's hidden layer.
        :param layer_norm_eps: epsilon of both layer norms.
        :param dropout: dropout probability on each sub-layer's output and the hidden layer.
        """
        super().__init__()
        # The handout's attributes, so that this forward fits the handout's constructor.
        self.attn = attn
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = nn.ReLU()

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """
        :param x: (batch, seq, d_model).
        :param mask: attention mask as in `reference.attention.attention`, e.g. a causal
            (seq, seq) boolean keep mask; None attends everywhere.
        :return: (batch, seq, d_model).
        """
        # Post-norm: normalising after each residual sum keeps every block's output at unit
        # scale, as the original transformer and PyTorch's default layer do.
        x = self.norm1(x + self.dropout1(self.attn(x, x, x, mask)))  # (batch, seq, d_model)
        x = self.norm2(x + self.dropout2(self._feed_forward(x)))  # (batch, seq, d_model)
        return x

    def _feed_forward(self, x: Tensor) -> Tensor:
        """(batch, seq, d_model) -> (batch, seq, d_model): expand, ReLU, drop, project back."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoder(nn.Module):
    """``n_blocks`` independent copies of ``block`` applied in sequence, sharing one mask."""

    def __init__(self, block: EncoderBlock, n_blocks: int) -> None:
        """
        :param block: the block to copy. Each copy gets its own parameters, starting from the
            same values (as ``nn.TransformerEncoder`` does); training then separates them.
        :param n_blocks: number of blocks.
        """
        super().__init__()
        self.blocks = nn.ModuleList(copy.deepcopy(block) for _ in range(n_blocks))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """(batch, seq, d_model) -> (batch, seq, d_model)."""
        for block in self.blocks:
            x = block(x, mask)  # (batch, seq, d_model)
        return x
