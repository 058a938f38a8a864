"""The transformer language model of the coding test, batch-first.

``TransformerLM`` has the constructor of the handout's ``TransformerModelManualAttn``:
embedding -> sinusoidal positions -> ``nlayers`` post-norm encoder blocks -> linear head.
``forward(src, src_mask)`` maps token ids (batch, seq) to next-token logits
(batch, seq, ntoken).

The mask is the caller's job, as in the handout: the training loop passes
``reference.masks.causal_mask(seq)``. With ``src_mask=None`` every position sees the whole
window (a bidirectional encoder), which is right for encoding but would let a language
model read the token it must predict.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from reference.attention import MultiHeadSelfAttention
from reference.encoder import EncoderBlock, TransformerEncoder
from reference.positional import SinusoidalPositionalEncoding

INIT_RANGE = 0.1
"""Embedding and output weights start uniform in [-0.1, 0.1], as the handout's init_weights."""


class TransformerLM(nn.Module):
    """Next-token language model: logits for token ``t + 1`` at every position ``t``."""

    def __init__(
        self,
        ntoken: int,
        d_model: int,
        nhead: int,
        d_hid: int,
        nlayers: int,
        dropout: float = 0.5,
        scale_embedding: bool = True,
    ) -> None:
        """
        :param ntoken: vocabulary size.
        :param d_model: width of the embeddings and of every block.
        :param nhead: attention heads per block; must divide ``d_model``.
        :param d_hid: hidden width of each block's feed-forward network.
        :param nlayers: number of encoder blocks.
        :param dropout: dropout probability everywhere (positions, attention, blocks).
        :param scale_embedding: multiply embeddings by sqrt(d_model) before adding positions
            (Vaswani et al. §3.4). The handout's model does not; the grader's baseline turns it
            off to compare like with like.
        """
        super().__init__()
        self.d_model = d_model
        self.embedding_scale = math.sqrt(d_model) if scale_embedding else 1.0
        self.embedding = nn.Embedding(ntoken, d_model)
        self.pos_encoder = SinusoidalPositionalEncoding(d_model, dropout)
        self.transformer_encoder = self.build_encoder(d_model, nhead, d_hid, nlayers, dropout)
        self.linear = nn.Linear(d_model, ntoken)
        self.init_weights()

    def build_encoder(
        self, d_model: int, nhead: int, d_hid: int, nlayers: int, dropout: float
    ) -> nn.Module:
        """The encoder stack, called as ``encoder(x, mask)`` on (batch, seq, d_model)."""
        attn = MultiHeadSelfAttention(d_model, nhead, dropout)
        block = EncoderBlock(attn, d_model, d_hid, dropout=dropout)
        return TransformerEncoder(block, nlayers)

    def init_weights(self) -> None:
        """Small uniform embedding and head weights, zero head bias (the handout's scheme)."""
        nn.init.uniform_(self.embedding.weight, -INIT_RANGE, INIT_RANGE)
        nn.init.uniform_(self.linear.weight, -INIT_RANGE, INIT_RANGE)
        nn.init.zeros_(self.linear.bias)

    def forward(self, src: Tensor, src_mask: Tensor | None = None) -> Tensor:
        """
        :param src: token ids (batch, seq), seq <= 5000.
        :param src_mask: attention mask as in `reference.attention.attention`, usually
            ``causal_mask(seq)``; None lets every position attend to the whole window.
        :return: logits (batch, seq, ntoken).
        """
        # Embeddings start in [-0.1, 0.1] while the sinusoids have unit amplitude; scaling by
        # sqrt(d_model) (Vaswani et al. §3.4) keeps the token signal from drowning in them.
        x = self.embedding(src) * self.embedding_scale  # (batch, seq, d_model)
        x = self.pos_encoder(x)  # (batch, seq, d_model)
        x = self.transformer_encoder(x, src_mask)  # (batch, seq, d_model)
        return self.linear(x)  # (batch, seq, ntoken)
