"""The encoder block and stack against nn.TransformerEncoderLayer / nn.TransformerEncoder."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reference.attention import MultiHeadSelfAttention
from reference.encoder import EncoderBlock, TransformerEncoder
from reference.masks import causal_mask, to_block
from reference.torch_twins import copy_block_weights

DERANDOMIZED = settings(derandomize=True, database=None, max_examples=20, deadline=None)


def twin_blocks(
    d_model: int, n_heads: int, d_hid: int, dtype: torch.dtype = torch.float32
) -> tuple[EncoderBlock, nn.TransformerEncoderLayer]:
    """A reference block and PyTorch's post-norm layer with the same weights, dropout off."""
    theirs = nn.TransformerEncoderLayer(
        d_model, n_heads, d_hid, dropout=0.0, batch_first=True, norm_first=False, dtype=dtype
    ).eval()
    # Random norm parameters and biases, so that copying the wrong one would show.
    for name, parameter in theirs.named_parameters():
        if "norm" in name or "bias" in name:
            nn.init.normal_(parameter)
    attn = MultiHeadSelfAttention(d_model, n_heads)
    ours = EncoderBlock(attn, d_model, d_hid, dropout=0.0).to(dtype).eval()
    copy_block_weights(ours, theirs)
    return ours, theirs


@given(
    batch=st.integers(1, 3),
    seq=st.integers(1, 8),
    n_heads=st.integers(1, 3),
    head_dim=st.integers(1, 6),
    d_hid=st.integers(1, 12),
    causal=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
@DERANDOMIZED
def test_encoder_block_equals_pytorch_post_norm_layer(
    batch: int,
    seq: int,
    n_heads: int,
    head_dim: int,
    d_hid: int,
    causal: bool,
    dtype: torch.dtype,
    seed: int,
) -> None:
    torch.manual_seed(seed)
    d_model = n_heads * head_dim
    ours, theirs = twin_blocks(d_model, n_heads, d_hid, dtype)
    x = torch.randn(batch, seq, d_model, dtype=dtype)
    mask = causal_mask(seq) if causal else None
    expected = theirs(x, src_mask=None if mask is None else to_block(mask))
    torch.testing.assert_close(ours(x, mask), expected)


def test_encoder_block_at_the_handout_sizes_equals_pytorch() -> None:
    ours, theirs = twin_blocks(d_model=200, n_heads=2, d_hid=200)
    x = torch.randn(20, 35, 200)
    expected = theirs(x, src_mask=to_block(causal_mask(35)))
    torch.testing.assert_close(ours(x, causal_mask(35)), expected)


def test_block_output_is_layer_normalised() -> None:
    # Post-norm: the last operation is norm2, whose fresh weight 1 and bias 0 leave every
    # position with mean 0 and variance 1 over its features.
    block = EncoderBlock(MultiHeadSelfAttention(16, 4), 16, 32, dropout=0.0)
    out = block(torch.randn(2, 5, 16))
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(-1, unbiased=False), torch.ones(2, 5), atol=1e-3, rtol=0)


def test_dropout_makes_training_random_and_eval_deterministic() -> None:
    block = EncoderBlock(MultiHeadSelfAttention(16, 4, dropout=0.1), 16, 32, dropout=0.1)
    x = torch.randn(2, 5, 16)
    assert not torch.allclose(block.train()(x), block(x))
    torch.testing.assert_close(block.eval()(x), block(x))


@pytest.mark.parametrize("n_blocks", [1, 3])
def test_stack_equals_pytorch_encoder_with_independent_copies(n_blocks: int) -> None:
    ours_block, theirs_layer = twin_blocks(d_model=12, n_heads=3, d_hid=20)
    ours = TransformerEncoder(ours_block, n_blocks).eval()
    theirs = nn.TransformerEncoder(theirs_layer, n_blocks, enable_nested_tensor=False).eval()
    # Make every layer different, then copy layer by layer.
    for layer in theirs.layers:
        for parameter in layer.parameters():
            nn.init.normal_(parameter, std=0.3)
    for block, layer in zip(ours.blocks, theirs.layers, strict=True):
        copy_block_weights(block, layer)
    x = torch.randn(2, 7, 12)
    expected = theirs(x, mask=to_block(causal_mask(7)))
    torch.testing.assert_close(ours(x, causal_mask(7)), expected)
    parameters = {id(p) for block in ours.blocks for p in block.parameters()}
    assert len(parameters) == n_blocks * len(list(ours_block.parameters()))
