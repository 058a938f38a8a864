"""Scaled dot-product attention and multi-head self-attention against PyTorch's own."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from reference.attention import MultiHeadSelfAttention, attention
from reference.masks import causal_mask, to_additive, to_block
from reference.torch_twins import copy_attention_weights

DERANDOMIZED = settings(derandomize=True, database=None, max_examples=25, deadline=None)
DTYPES = st.sampled_from([torch.float32, torch.float64])
MASK_KINDS = st.sampled_from(["none", "keep", "additive"])


def random_keep_mask(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """A random boolean keep mask whose every query row keeps at least one key (a fully
    masked row has no softmax to compare)."""
    keep = torch.rand(shape, generator=generator) < 0.5
    first_kept = torch.randint(shape[-1], shape[:-1], generator=generator)
    return keep.scatter(-1, first_kept.unsqueeze(-1), True)


@st.composite
def attention_inputs(draw: st.DrawFn) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """query, key, value (batch, heads, seq, head_dim) and a mask of a drawn convention and
    broadcast shape, or None."""
    batch, heads = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seq_q, seq_k, head_dim = (
        draw(st.integers(1, 7)),
        draw(st.integers(1, 7)),
        draw(st.integers(1, 9)),
    )
    dtype = draw(DTYPES)
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))

    def randn(*shape: int) -> Tensor:
        return torch.randn(shape, generator=generator, dtype=dtype)

    query, key, value = (
        randn(batch, heads, seq_q, head_dim),
        randn(batch, heads, seq_k, head_dim),
        randn(batch, heads, seq_k, head_dim),
    )
    kind = draw(MASK_KINDS)
    if kind == "none":
        return query, key, value, None
    leading = draw(st.sampled_from([(), (1,), (batch, 1)]))
    keep = random_keep_mask((*leading, seq_q, seq_k), generator)
    return query, key, value, keep if kind == "keep" else to_additive(keep, dtype)


@given(attention_inputs())
@DERANDOMIZED
def test_attention_equals_scaled_dot_product_attention(
    inputs: tuple[Tensor, Tensor, Tensor, Tensor | None],
) -> None:
    query, key, value, mask = inputs
    expected = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
    torch.testing.assert_close(attention(query, key, value, mask), expected)


def test_attention_with_a_causal_mask_equals_is_causal() -> None:
    query, key, value = torch.randn(3, 2, 4, 35, 16).unbind()
    expected = F.scaled_dot_product_attention(query, key, value, is_causal=True)
    torch.testing.assert_close(attention(query, key, value, causal_mask(35)), expected)


def test_attention_stays_finite_for_large_scores() -> None:
    query, key, value = (1e4 * torch.randn(3, 1, 2, 6, 8)).unbind()
    assert torch.isfinite(attention(query, key, value, causal_mask(6))).all()


class Recorder(nn.Module):
    """A stand-in for dropout that keeps what it was given and passes it through."""

    def forward(self, weights: Tensor) -> Tensor:
        self.seen = weights
        return weights


def test_dropout_is_applied_to_the_attention_weights() -> None:
    query, key, value = torch.randn(3, 2, 2, 5, 4).unbind()
    recorder = Recorder()
    attention(query, key, value, causal_mask(5), dropout=recorder)
    assert recorder.seen.shape == (2, 2, 5, 5)
    torch.testing.assert_close(recorder.seen.sum(-1), torch.ones(2, 2, 5))
    assert (recorder.seen.triu(diagonal=1) == 0).all()


def test_dropout_that_drops_everything_zeroes_the_output() -> None:
    query, key, value = torch.randn(3, 1, 2, 5, 4).unbind()
    dropped = attention(query, key, value, dropout=nn.Dropout(p=1.0).train())
    assert torch.equal(dropped, torch.zeros_like(dropped))


def test_dropout_in_eval_mode_changes_nothing() -> None:
    query, key, value = torch.randn(3, 1, 2, 5, 4).unbind()
    with_dropout = attention(query, key, value, dropout=nn.Dropout(p=0.5).eval())
    torch.testing.assert_close(with_dropout, attention(query, key, value))


# --- multi-head self-attention ----------------------------------------------------------


def twin_modules(
    dim: int, n_heads: int, dtype: torch.dtype
) -> tuple[MultiHeadSelfAttention, nn.MultiheadAttention]:
    """A reference module and ``nn.MultiheadAttention`` holding the same weights."""
    theirs = nn.MultiheadAttention(dim, n_heads, batch_first=True, dtype=dtype).eval()
    # PyTorch starts the projection biases at zero; random ones make the copy check mean more.
    nn.init.normal_(theirs.in_proj_bias)
    nn.init.normal_(theirs.out_proj.bias)
    ours = MultiHeadSelfAttention(dim, n_heads).to(dtype).eval()
    copy_attention_weights(ours, theirs)
    return ours, theirs


@given(
    batch=st.integers(1, 3),
    seq_q=st.integers(1, 7),
    seq_k=st.integers(1, 7),
    n_heads=st.integers(1, 4),
    head_dim=st.integers(1, 8),
    dtype=DTYPES,
    kind=MASK_KINDS,
    seed=st.integers(0, 2**16),
)
@DERANDOMIZED
def test_multi_head_attention_equals_pytorch(
    batch: int,
    seq_q: int,
    seq_k: int,
    n_heads: int,
    head_dim: int,
    dtype: torch.dtype,
    kind: str,
    seed: int,
) -> None:
    torch.manual_seed(seed)
    dim = n_heads * head_dim
    ours, theirs = twin_modules(dim, n_heads, dtype)
    query = torch.randn(batch, seq_q, dim, dtype=dtype)
    key, value = torch.randn(2, batch, seq_k, dim, dtype=dtype).unbind()
    keep = random_keep_mask((seq_q, seq_k), torch.Generator().manual_seed(seed))
    # nn.MultiheadAttention reads a boolean True as blocked: give it the complement.
    our_mask, their_mask = {
        "none": (None, None),
        "keep": (keep, to_block(keep)),
        "additive": (to_additive(keep, dtype),) * 2,
    }[kind]
    expected, _ = theirs(query, key, value, attn_mask=their_mask, need_weights=False)
    torch.testing.assert_close(ours(query, key, value, our_mask), expected)


def test_self_attention_with_a_causal_mask_equals_pytorch() -> None:
    ours, theirs = twin_modules(dim=200, n_heads=2, dtype=torch.float32)
    x = torch.randn(20, 35, 200)
    expected, _ = theirs(x, x, x, attn_mask=to_block(causal_mask(35)), need_weights=False)
    torch.testing.assert_close(ours(x, x, x, causal_mask(35)), expected)


def test_a_mask_per_sequence_applies_to_its_own_sequence() -> None:
    # A 3-D mask is (batch, seq_q, seq_k), including the handout's (1, seq, seq).
    module = MultiHeadSelfAttention(8, 2).eval()
    x = torch.randn(2, 5, 8)
    masks = torch.stack([causal_mask(5), torch.ones(5, 5, dtype=torch.bool)])  # (2, 5, 5)
    together = module(x, x, x, masks)
    for i in range(2):
        alone = module(x[i : i + 1], x[i : i + 1], x[i : i + 1], masks[i])
        torch.testing.assert_close(together[i : i + 1], alone)
    shared = module(x, x, x, causal_mask(5).unsqueeze(0))  # (1, 5, 5), as the handout builds it
    torch.testing.assert_close(shared, module(x, x, x, causal_mask(5)))


def test_indivisible_width_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match=r"dim \(10\) must be divisible by n_heads \(3\)"):
        MultiHeadSelfAttention(10, 3)


@pytest.mark.parametrize("dropout", [None, 0.0])
def test_no_dropout_means_no_dropout_module_and_a_deterministic_output(
    dropout: float | None,
) -> None:
    module = MultiHeadSelfAttention(8, 2, dropout=dropout).train()
    assert module.dropout is None
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(module(x, x, x), module(x, x, x))


def test_dropout_is_random_in_training_and_off_in_eval() -> None:
    module = MultiHeadSelfAttention(8, 2, dropout=0.5)
    x = torch.randn(2, 5, 8)
    assert not torch.allclose(module.train()(x, x, x), module(x, x, x))
    torch.testing.assert_close(module.eval()(x, x, x), module(x, x, x))


def test_each_head_sees_only_its_own_slice() -> None:
    # Changing the key projection's rows of head 1 must leave head 0's part of the joined
    # output unchanged: heads are split along features, not mixed.
    module = MultiHeadSelfAttention(8, 2).eval()
    module.linear_cat_attn = nn.Identity()
    x = torch.randn(3, 6, 8)
    before = module(x, x, x)
    with torch.no_grad():
        module.linear_key.weight[4:] += 1.0
    after = module(x, x, x)
    torch.testing.assert_close(after[..., :4], before[..., :4])
    assert not torch.allclose(after[..., 4:], before[..., 4:])
