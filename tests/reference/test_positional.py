"""Sinusoidal and learnable positional encodings, batch-first."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.positional import LearnablePositionalEncoding, SinusoidalPositionalEncoding

DERANDOMIZED = settings(derandomize=True, database=None, max_examples=20, deadline=None)


@pytest.mark.parametrize("d_model", [6, 7, 200])
def test_sinusoids_follow_the_paper_formula(d_model: int) -> None:
    table = SinusoidalPositionalEncoding(d_model, dropout=0.0, max_len=50).table
    for position in (0, 1, 17, 49):
        for i in range(0, d_model, 2):
            angle = position / 10000 ** (i / d_model)
            assert table[position, i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            if i + 1 < d_model:
                assert table[position, i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoids_are_added_along_the_sequence_axis_of_batch_first_input() -> None:
    encoding = SinusoidalPositionalEncoding(8, dropout=0.0, max_len=20)
    x = torch.zeros(3, 5, 8)  # (batch, seq, d_model): every sequence gets the same rows 0..4
    out = encoding(x)
    for sequence in out:
        torch.testing.assert_close(sequence, encoding.table[:5])


def test_sinusoidal_table_is_a_buffer_not_a_parameter() -> None:
    encoding = SinusoidalPositionalEncoding(8)
    assert list(encoding.parameters()) == []
    assert "table" in encoding.state_dict()


@given(max_len=st.integers(1, 12), seq=st.integers(1, 12), batch=st.integers(1, 3))
@DERANDOMIZED
def test_learnable_encoding_works_for_every_length_up_to_max_len(
    max_len: int, seq: int, batch: int
) -> None:
    encoding = LearnablePositionalEncoding(max_len, d_model=4)
    x = torch.randn(batch, seq, 4)
    if seq > max_len:
        with pytest.raises(ValueError, match=f"longer than .*max_len={max_len}"):
            encoding(x)
        return
    out = encoding(x)
    assert out.shape == (batch, seq, 4)
    # The same row per position for every sequence of the batch, different rows by position.
    torch.testing.assert_close(out - x, encoding.table[:seq].expand(batch, -1, -1))


def test_learnable_encoding_is_a_parameter_that_receives_gradients() -> None:
    encoding = LearnablePositionalEncoding(10, 6)
    assert [name for name, _ in encoding.named_parameters()] == ["table"]
    encoding(torch.randn(2, 4, 6)).pow(2).sum().backward()
    gradient = encoding.table.grad
    assert gradient is not None
    assert (gradient[:4].abs().sum(-1) > 0).all(), "every used position gets a gradient"
    assert (gradient[4:] == 0).all(), "positions beyond the input get none"


def test_learnable_encoding_starts_small_and_distinct_by_position() -> None:
    torch.manual_seed(0)
    table = LearnablePositionalEncoding(64, 32).table.detach()
    assert 0.01 < table.std().item() < 0.05
    assert torch.cdist(table, table).add(torch.eye(64)).min() > 0
