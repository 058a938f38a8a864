"""Corpora (synthetic Markov chain, Penn Treebank from a directory) and the handout's batching."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from reference.data import (
    Corpus,
    SyntheticSpec,
    batchify,
    get_batch,
    get_batch_first,
    load_corpus,
    ptb_corpus,
    synthetic_corpus,
    unigram_entropy,
)
from reference.synthetic import random_markov_chain

SMALL = SyntheticSpec(vocab_size=32, successors=3, train_tokens=5_000, valid_tokens=1_000)


# --- synthetic corpus -------------------------------------------------------------------


def test_chain_rows_are_sparse_distributions_and_pi_is_stationary() -> None:
    chain = random_markov_chain(vocab_size=40, successors=3, seed=1)
    torch.testing.assert_close(chain.transition.sum(1), torch.ones(40, dtype=torch.float64))
    assert ((chain.transition > 0).sum(1) <= 3).all()
    torch.testing.assert_close(chain.stationary @ chain.transition, chain.stationary)
    assert (chain.stationary > 0).all() and math.isclose(chain.stationary.sum().item(), 1.0)


def test_entropy_rate_lies_below_the_unigram_entropy_and_log_successors() -> None:
    chain = random_markov_chain(vocab_size=64, successors=4, seed=0)
    assert 0 < chain.entropy_rate <= math.log(4)
    assert chain.entropy_rate < chain.unigram_entropy <= math.log(64)


def test_sampled_text_has_the_entropies_the_chain_promises() -> None:
    # Measured on a long sample, the empirical conditional entropy H(next | current) and
    # the unigram entropy converge on the exact values (to about 1 / sqrt(tokens)). This
    # chain's stationary distribution is far from uniform (0.02 to 0.31), so weighting the
    # rows' entropies equally instead of by it would be off by 0.06.
    chain = random_markov_chain(vocab_size=8, successors=3, seed=0)
    tokens = chain.sample(100_000, torch.Generator().manual_seed(0))
    pairs = torch.zeros(8, 8, dtype=torch.float64)
    pairs.index_put_(
        (tokens[:-1], tokens[1:]), torch.tensor(1.0, dtype=torch.float64), accumulate=True
    )
    joint = pairs / pairs.sum()
    conditional = joint / joint.sum(1, keepdim=True)
    empirical_rate = -(torch.xlogy(conditional, conditional) * joint.sum(1, keepdim=True)).sum()
    assert empirical_rate.item() == pytest.approx(chain.entropy_rate, abs=0.02)
    assert unigram_entropy(tokens, 8) == pytest.approx(chain.unigram_entropy, abs=0.02)


def test_synthetic_corpus_is_reproducible_from_its_seed() -> None:
    first, again = synthetic_corpus(SMALL), synthetic_corpus(SMALL)
    other = synthetic_corpus(SyntheticSpec(**{**SMALL.__dict__, "seed": 1}))
    assert torch.equal(first.train, again.train) and torch.equal(first.valid, again.valid)
    assert not torch.equal(first.train, other.train)
    assert first.entropy_rate == again.entropy_rate != other.entropy_rate


def test_synthetic_corpus_describes_itself() -> None:
    corpus = synthetic_corpus(SMALL)
    assert corpus.name == "synthetic" and corpus.splits == ("train", "valid")
    assert corpus.train.shape == (5_000,) and corpus.valid.shape == (1_000,)
    assert corpus.train.dtype == torch.long and int(corpus.train.max()) < corpus.vocab_size
    assert corpus.entropy_rate is not None and corpus.entropy_rate < corpus.unigram_entropy
    assert "train 5,000" in corpus.describe()


# --- Penn Treebank from a directory ---------------------------------------------------


@pytest.fixture(scope="module")
def ptb_valid_test(ptb_dir: Path) -> Corpus:
    return ptb_corpus(ptb_dir, splits=("valid", "test"))


def test_ptb_from_a_directory_goes_through_torchtext(ptb_valid_test: Corpus) -> None:
    corpus = ptb_valid_test
    assert corpus.name.startswith("ptb-dir:") and corpus.splits == ("valid", "test")
    assert corpus.note == "", "torchtext read the files without a fallback"
    # The handout's own printout: 73339 validation and 82114 test tokens.
    assert corpus.train.numel() == 73_339 and corpus.valid.numel() == 82_114
    assert int(corpus.valid.max()) < corpus.vocab_size == len(set(corpus.train.tolist()))
    assert 0 < corpus.unigram_entropy < math.log(corpus.vocab_size)


def test_a_missing_split_names_the_splits_present(ptb_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no ptb.train.txt; splits present: valid, test"):
        load_corpus(ptb_dir, ("train", "valid"))


def test_unknown_split_names_are_refused(ptb_dir: Path) -> None:
    with pytest.raises(ValueError, match="two of train, valid, test"):
        ptb_corpus(ptb_dir, ("valid", "dev"))


def test_files_torchtext_would_not_accept_are_read_directly(ptb_dir: Path, tmp_path: Path) -> None:
    for split in ("valid", "test"):
        lines = (ptb_dir / f"ptb.{split}.txt").read_text(encoding="utf-8").splitlines()
        (tmp_path / f"ptb.{split}.txt").write_text("\n".join(lines[:50]) + "\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="differ from the torchtext release"):
        corpus = ptb_corpus(tmp_path, ("valid", "test"))
    assert "read directly" in corpus.note
    assert corpus.train.numel() > 500


# --- batching ---------------------------------------------------------------------------


def test_batchify_lays_out_contiguous_columns_and_drops_the_tail() -> None:
    source = batchify(torch.arange(23), batch_size=4)
    assert source.shape == (5, 4)
    for column in range(4):
        assert torch.equal(source[:, column], torch.arange(5 * column, 5 * column + 5))


def test_get_batch_returns_the_window_and_its_next_tokens() -> None:
    source = batchify(torch.arange(40), batch_size=2)  # (20, 2)
    data, targets = get_batch(source, 0, bptt=7)
    assert data.shape == (7, 2) and targets.shape == (14,)
    assert torch.equal(targets, (data + 1).reshape(-1))
    last, last_targets = get_batch(source, 14, bptt=7)  # rows 14..18, targets 15..19
    assert last.shape == (5, 2) and torch.equal(last_targets, (last + 1).reshape(-1))


def test_batch_first_window_lines_up_with_batch_first_logits() -> None:
    source = batchify(torch.arange(40), batch_size=2)
    data, targets = get_batch_first(source, 3, bptt=7)
    assert data.shape == targets.shape == (2, 7)
    # Row b of the data is one contiguous stretch of text; flattening the targets follows
    # the same (batch, seq) order as logits.flatten(0, 1).
    assert torch.equal(data[0], torch.arange(3, 10)) and torch.equal(targets, data + 1)


def test_load_corpus_defaults_to_the_synthetic_corpus() -> None:
    assert load_corpus(synthetic=SMALL).name == "synthetic"
