"""The causal mask and the conversions between mask conventions."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reference.masks import (
    causal_mask,
    convert,
    infer_convention,
    to_additive,
    to_block,
    to_keep,
)

DERANDOMIZED = settings(derandomize=True, database=None, max_examples=30, deadline=None)


@st.composite
def bool_masks(draw: st.DrawFn) -> torch.Tensor:
    """Random boolean masks of 1 to 3 dimensions, from a drawn seed."""
    shape = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    return torch.rand(shape, generator=generator) < 0.5


@pytest.mark.parametrize("size", [1, 2, 7, 35])
def test_causal_mask_keeps_exactly_the_past_and_present(size: int) -> None:
    mask = causal_mask(size)
    assert mask.dtype == torch.bool and mask.shape == (size, size)
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    assert torch.equal(mask, cols <= rows)


@pytest.mark.parametrize("size", [1, 5, 35])
def test_additive_causal_mask_equals_pytorch(size: int) -> None:
    expected = nn.Transformer.generate_square_subsequent_mask(size)
    torch.testing.assert_close(to_additive(causal_mask(size)), expected)


def test_causal_mask_is_built_on_the_requested_device() -> None:
    # The meta device allocates nothing, so this runs without a GPU.
    assert causal_mask(4, device=torch.device("meta")).device.type == "meta"


def test_causal_mask_rejects_an_empty_length() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        causal_mask(0)


def test_block_and_keep_are_complements() -> None:
    keep = causal_mask(6)
    assert torch.equal(to_block(keep), ~keep)
    assert torch.equal(to_keep(~keep, convention="block"), keep)


def test_additive_mask_keeps_zeros_and_blocks_minus_infinity() -> None:
    additive = torch.tensor([[0.0, float("-inf")], [0.0, 0.0]])
    assert infer_convention(additive) == "additive"
    assert torch.equal(to_keep(additive), torch.tensor([[True, False], [True, True]]))


@given(bool_masks(), st.sampled_from(["keep", "block", "additive"]))
@DERANDOMIZED
def test_every_conversion_round_trips(keep: torch.Tensor, target: str) -> None:
    converted = convert(keep, target, dtype=torch.float64)
    assert converted.shape == keep.shape
    assert torch.equal(to_keep(converted, convention=target), keep)


@given(bool_masks())
@DERANDOMIZED
def test_additive_mask_has_only_zero_and_minus_infinity(keep: torch.Tensor) -> None:
    additive = to_additive(keep, torch.float16)
    assert additive.dtype == torch.float16
    assert torch.equal(additive == 0, keep)
    assert torch.isneginf(additive[~keep]).all()
