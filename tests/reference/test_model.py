"""The language model: layout, causality, use of positions, and equality with PyTorch's."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.masks import causal_mask
from reference.model import TransformerLM
from reference.torch_twins import TorchTransformerLM, copy_lm_weights

DERANDOMIZED = settings(derandomize=True, database=None, max_examples=15, deadline=None)
NTOKEN = 50


def small_model(seed: int = 0) -> TransformerLM:
    torch.manual_seed(seed)
    return TransformerLM(NTOKEN, d_model=16, nhead=2, d_hid=32, nlayers=2, dropout=0.1).eval()


def test_logits_are_batch_first() -> None:
    src = torch.randint(NTOKEN, (3, 9))
    assert small_model()(src, causal_mask(9)).shape == (3, 9, NTOKEN)


@given(seq=st.integers(2, 12), cut=st.integers(1, 11), seed=st.integers(0, 2**16))
@DERANDOMIZED
def test_changing_future_tokens_leaves_earlier_logits_unchanged(
    seq: int, cut: int, seed: int
) -> None:
    cut = min(cut, seq - 1)
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(NTOKEN, (2, seq), generator=generator)
    changed = src.clone()
    changed[:, cut:] = torch.randint(NTOKEN, (2, seq - cut), generator=generator)
    model, mask = small_model(), causal_mask(seq)
    torch.testing.assert_close(model(changed, mask)[:, :cut], model(src, mask)[:, :cut])


def test_without_a_mask_the_future_reaches_earlier_positions() -> None:
    # The mask is the caller's job: None is bidirectional, so the first position sees a
    # change at the last one. This is why the training loop must pass causal_mask.
    model = small_model()
    src = torch.randint(NTOKEN, (2, 6))
    changed = src.clone()
    changed[:, -1] = (src[:, -1] + 1) % NTOKEN
    assert not torch.allclose(model(changed)[:, 0], model(src)[:, 0])


def test_sequences_of_a_batch_do_not_affect_each_other() -> None:
    model, mask = small_model(), causal_mask(7)
    src = torch.randint(NTOKEN, (4, 7))
    torch.testing.assert_close(model(src, mask)[1:2], model(src[1:2], mask))


def test_positions_matter() -> None:
    # The same token at every position would give the same logits everywhere without
    # positional information.
    model = small_model()
    src = torch.full((1, 8), 3)
    logits = model(src)
    assert not torch.allclose(logits[0, 0], logits[0, -1])


def test_model_equals_the_same_model_built_from_pytorch_modules() -> None:
    torch.manual_seed(1)
    theirs = TorchTransformerLM(NTOKEN, 16, 2, 32, 2, dropout=0.1).eval()
    ours = small_model(seed=2)
    copy_lm_weights(ours, theirs)
    src = torch.randint(NTOKEN, (3, 10))
    torch.testing.assert_close(ours(src, causal_mask(10)), theirs(src, causal_mask(10)))
