"""The worker renames the grader's ``mask=`` / ``dropout=`` to the candidate's parameters."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from grader.sandbox.roles import rebind

Q = K = V = torch.zeros(1, 1, 2, 2)
MASK = torch.ones(2, 2, dtype=torch.bool)


def handout(query, key, value, mask=None, dropout=None):
    return mask, dropout


def torch_style(q, k, v, attn_mask=None, dropout_p=0.0):
    return attn_mask, dropout_p


def unnamed(q, k, v, future):
    return future


def no_mask(q, k, v, dropout=None):
    return dropout


def anything(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return kwargs


def call(function: Any, **kwargs: Any) -> Any:
    args = (Q, K, V)
    return function(*args, **rebind(function, args, kwargs))


def test_the_handouts_names_pass_unchanged() -> None:
    drop = nn.Dropout(0.3)
    assert call(handout, mask=MASK, dropout=drop) == (MASK, drop)


@pytest.mark.parametrize(
    ("dropout", "rate"),
    [(nn.Dropout(0.3).train(), 0.3), (nn.Dropout(0.3).eval(), 0.0), (None, 0.0)],
    ids=["training", "eval", "none"],
)
def test_torch_style_names_get_the_mask_and_the_rate(dropout: Any, rate: float) -> None:
    mask, p = call(torch_style, mask=MASK, dropout=dropout)
    assert mask is MASK
    assert p == pytest.approx(rate)


def test_an_unnamed_fourth_parameter_takes_the_mask() -> None:
    assert call(unnamed, mask=MASK) is MASK


def test_a_role_given_as_none_needs_no_parameter() -> None:
    drop = nn.Dropout(0.1)
    assert call(no_mask, mask=None, dropout=drop) is drop


def test_a_mask_with_nowhere_to_go_fails_with_pythons_own_error() -> None:
    with pytest.raises(TypeError, match="mask"):
        call(no_mask, mask=MASK)


def test_a_callable_taking_any_keyword_gets_them_as_given() -> None:
    assert call(anything, mask=MASK, dropout=None) == {"mask": MASK, "dropout": None}


def test_a_module_is_read_through_its_forward() -> None:
    class Block(nn.Module):
        def forward(self, x: torch.Tensor, src_mask: torch.Tensor | None = None) -> Any:
            return src_mask

    block = Block()
    assert block(Q, **rebind(block, (Q,), {"mask": MASK})) is MASK
    bound_call = block.__call__
    assert rebind(bound_call, (Q,), {"mask": MASK}) == {"src_mask": MASK}


def test_a_numeric_default_means_a_rate_even_under_the_handouts_name() -> None:
    def rate_named_dropout(q, k, v, mask=None, dropout=0.0):
        return dropout

    assert call(rate_named_dropout, dropout=nn.Dropout(0.25).train()) == pytest.approx(0.25)
