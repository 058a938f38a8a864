"""Mask conventions: a causal mask is identified in each convention, and a mask that is a
triangle off by some diagonals is named for what it lets a position see."""

from __future__ import annotations

import pytest
import torch

from grader.checks.mask_source import MaskSource, shown
from grader.checks.masks import MaskStyle, identify

L = 5
LATER = torch.ones(L, L, dtype=torch.bool).triu(1)  # True where the key is after the query


@pytest.mark.parametrize(
    ("mask", "convention"),
    [
        (~LATER, "keep-bool"),
        (LATER, "block-bool"),
        (torch.zeros(L, L).masked_fill(LATER, float("-inf")), "additive"),
        ((~LATER).float(), "keep-float"),
        (LATER.float(), "block-float"),
    ],
)
def test_causal_masks_are_identified(mask: torch.Tensor, convention: str) -> None:
    style = identify(mask.unsqueeze(0), L)
    assert isinstance(style, MaskStyle) and style.convention == convention
    assert style.leading == (1,)


@pytest.mark.parametrize(
    "mask",
    [
        torch.ones(1, L, L).triu(2) == 0,  # the Annotated Transformer's subsequent_mask, off by one
        torch.ones(L, L).triu(2),  # float 0/1, 1 = blocked
        torch.zeros(L, L).masked_fill(torch.ones(L, L, dtype=torch.bool).triu(2), -1e9),
    ],
)
def test_a_mask_that_shows_the_next_token_is_named(mask: torch.Tensor) -> None:
    said = identify(mask, L)
    assert isinstance(said, str)
    assert "the next token" in said and "off by 1" in said


def test_a_mask_that_hides_the_diagonal_is_named() -> None:
    said = identify(torch.ones(L, L).tril(-1).bool(), L)
    assert isinstance(said, str) and "from itself" in said


def test_a_mask_of_no_triangle_gets_no_diagnosis() -> None:
    said = identify(torch.eye(L, dtype=torch.bool) | LATER.flip(0), L)
    assert isinstance(said, str) and "next" not in said and "itself" not in said


def test_an_unidentified_mask_keeps_its_leading_dims() -> None:
    """A stand-in for a broken (1, L, L) mask function must return (1, L, L) too: the
    candidate's model indexes the mask as their function shapes it."""
    wrong = torch.ones(1, L, L).triu(2) == 0
    source = MaskSource(None, "function", "not causal", function="f", evidence=shown(wrong))
    assert source.leading == (1,)
    assert MaskSource(None, "function", "failed", function="f").leading == ()
    style = MaskStyle("keep-bool", (1, 1))
    assert MaskSource(style, "function", "ok", function="f").leading == (1, 1)
