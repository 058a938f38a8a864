"""Corpora for the language-model task and the handout's batching.

Two sources give the same `Corpus`:

- Penn Treebank through ``torchtext.datasets.PennTreebank`` with the ``basic_english``
  tokenizer and a vocabulary built from the training split, exactly as the handout does.
  Offline, a local directory holding ``ptb.<split>.txt`` stands in for the download; any two
  splits may serve as (training, validation), e.g. ``("valid", "test")`` where the train split
  is not available.
- A synthetic corpus sampled from a random sparse Markov chain (`reference.synthetic`), whose
  entropy rate is known exactly: the default when there is neither internet nor data.

Batching follows the handout: `batchify` lays a token stream out as (seq, batch) columns and
`get_batch` cuts a window of ``bptt`` rows with its next-token targets; `get_batch_first`
gives the same window batch-first for batch-first models.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from reference.synthetic import random_markov_chain

PTB_SPLITS = ("train", "valid", "test")
UNKNOWN_TOKEN = "<unk>"
TOKENIZER = "basic_english"
PTB_MD5 = {
    "train": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
    "test": "8b80168b89c18661a38ef683c0dc3721",
}
"""Checksums of the files torchtext downloads (and checks); other files are read directly."""


@dataclass(frozen=True)
class Corpus:
    """Token streams of a corpus, one per split, and what is known about their entropy."""

    name: str
    """``synthetic``, ``ptb`` (torchtext's download) or ``ptb-dir:<path>``."""
    splits: tuple[str, str]
    """(training split, validation split), e.g. ``("valid", "test")``."""
    vocab_size: int
    """Number of token ids; the vocabulary comes from the training split only."""
    tokens: dict[str, Tensor] = field(repr=False)
    """Split name -> (num_tokens,) int64 token ids, lines concatenated."""
    unigram_entropy: float
    """Nats/token of the best context-free guess: exact for the synthetic corpus, the
    training split's empirical unigram entropy for Penn Treebank."""
    entropy_rate: float | None = None
    """Nats/token no model can beat (synthetic corpus only; unknown for natural text)."""
    note: str = ""
    """Anything a reader of the results must know about how the corpus was obtained."""

    @property
    def train(self) -> Tensor:
        """(num_tokens,) token ids of the training split."""
        return self.tokens[self.splits[0]]

    @property
    def valid(self) -> Tensor:
        """(num_tokens,) token ids of the validation split."""
        return self.tokens[self.splits[1]]

    def describe(self) -> str:
        """One line naming the corpus, its splits and their sizes."""
        sizes = ", ".join(f"{name} {self.tokens[name].numel():,}" for name in self.splits)
        return f"{self.name} (vocab {self.vocab_size:,}; tokens: {sizes})"


# --- synthetic corpus ------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticSpec:
    """Shape of the synthetic corpus; the defaults are the grader's embedded corpus."""

    vocab_size: int = 256
    """Tokens in the vocabulary: the unigram entropy is close to log(256) = 5.5 nats."""
    successors: int = 4
    """Possible next tokens of each token: the entropy rate is at most log(4) = 1.4 nats."""
    train_tokens: int = 200_000
    """Training split length: more than the longest step budget reads (600 x 700 tokens
    would repeat it about twice)."""
    valid_tokens: int = 20_000
    """Validation split length."""
    seed: int = 0
    """Seed of the chain and of both samples."""


def synthetic_corpus(spec: SyntheticSpec = SyntheticSpec()) -> Corpus:
    """Training and validation runs of the same random Markov chain, reproducible from the seed."""
    chain = random_markov_chain(spec.vocab_size, spec.successors, spec.seed)
    generator = torch.Generator().manual_seed(spec.seed)
    tokens = {
        "train": chain.sample(spec.train_tokens, generator),
        "valid": chain.sample(spec.valid_tokens, generator),
    }
    return Corpus(
        name="synthetic",
        splits=("train", "valid"),
        vocab_size=spec.vocab_size,
        tokens=tokens,
        unigram_entropy=chain.unigram_entropy,
        entropy_rate=chain.entropy_rate,
        note=(
            f"random Markov chain, seed {spec.seed}: {spec.vocab_size} tokens with "
            f"{spec.successors} successors each"
        ),
    )


# --- Penn Treebank ---------------------------------------------------------------------


def ptb_corpus(
    data_dir: str | Path | None = None, splits: Sequence[str] = ("train", "valid")
) -> Corpus:
    """Penn Treebank, tokenized and numbered as the handout does.

    :param data_dir: a directory holding ``ptb.<split>.txt`` for each split used; None
        downloads through torchtext (needs internet).
    :param splits: (training split, validation split), each one of train, valid, test.
    """
    train_split, valid_split = _check_splits(splits)
    _quiet_torchtext()
    from torchtext.data.utils import get_tokenizer
    from torchtext.vocab import build_vocab_from_iterator

    lines, note = _read_ptb(data_dir, (train_split, valid_split))
    tokenizer = get_tokenizer(TOKENIZER)
    vocab = build_vocab_from_iterator(map(tokenizer, lines[train_split]), specials=[UNKNOWN_TOKEN])
    vocab.set_default_index(vocab[UNKNOWN_TOKEN])  # words unseen in training map to <unk>
    # One stream per split: the lines' ids end to end (empty lines add nothing), as the
    # handout's torch.cat of the non-empty lines.
    tokens = {
        split: torch.tensor(
            _concatenate(vocab(tokenizer(line)) for line in split_lines), dtype=torch.long
        )
        for split, split_lines in lines.items()
    }
    return Corpus(
        name="ptb" if data_dir is None else f"ptb-dir:{data_dir}",
        splits=(train_split, valid_split),
        vocab_size=len(vocab),
        tokens=tokens,
        unigram_entropy=unigram_entropy(tokens[train_split], len(vocab)),
        note=note,
    )


def _quiet_torchtext() -> None:
    """Import torchtext without its deprecation banners (torchtext and torchdata print one
    each; both are pinned at their last release on purpose, see DESIGN.md).

    torchtext is imported here, on first use, not at the top of the module, so the synthetic
    corpus works (and imports fast) without it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torchtext

        torchtext.disable_torchtext_deprecation_warning()
        # PennTreebank imports torchdata's datapipes on first use, and they warn too.
        import torchdata.datapipes  # noqa: F401


def _check_splits(splits: Sequence[str]) -> tuple[str, str]:
    if len(splits) != 2 or not set(splits) <= set(PTB_SPLITS):
        raise ValueError(
            f"splits must be two of {', '.join(PTB_SPLITS)} (training, validation); got {splits}"
        )
    return splits[0], splits[1]


def _read_ptb(
    data_dir: str | Path | None, splits: tuple[str, str]
) -> tuple[dict[str, list[str]], str]:
    """The lines of each split and a note on how they were read (empty when torchtext read
    them the standard way)."""
    if data_dir is None:
        from torchtext.datasets import PennTreebank

        return {split: list(PennTreebank(split=split)) for split in splits}, ""
    directory = Path(data_dir)
    paths = {split: directory / f"ptb.{split}.txt" for split in splits}
    missing = [split for split, path in paths.items() if not path.is_file()]
    if missing:
        present = [s for s in PTB_SPLITS if (directory / f"ptb.{s}.txt").is_file()]
        raise FileNotFoundError(
            f"{directory} has no ptb.{missing[0]}.txt; splits present: "
            f"{', '.join(present) or 'none'} (choose two of them as training, validation)"
        )
    altered = [split for split, path in paths.items() if _md5(path) != PTB_MD5[split]]
    if altered:
        # torchtext would treat a file with the wrong checksum as a broken download and
        # fetch the original instead, silently ignoring the user's file.
        names = ", ".join(paths[split].name for split in altered)
        return _read_directly(paths), _warn(
            f"{names} in {directory} differ from the torchtext release (MD5); read directly"
        )
    try:
        return _read_through_torchtext(paths), ""
    # torchtext fails in many ways (a missing lock package, a download attempt offline);
    # whatever the cause, the files are still readable as plain text.
    except Exception as error:  # noqa: BLE001
        return _read_directly(paths), _warn(
            f"torchtext refused {directory} ({error!r}); read the files directly instead"
        )


def _read_through_torchtext(paths: dict[str, Path]) -> dict[str, list[str]]:
    """Each split's lines from ``PennTreebank``, the files linked into the layout it expects."""
    from torchtext.datasets import PennTreebank

    # torchtext looks for <root>/datasets/PennTreebank/ptb.<split>.txt and checks its MD5.
    with tempfile.TemporaryDirectory(prefix="ptb-root-") as root:
        cache = Path(root, "datasets", "PennTreebank")
        cache.mkdir(parents=True)
        for path in paths.values():
            (cache / path.name).symlink_to(path.resolve())
        return {split: list(PennTreebank(root=root, split=split)) for split in paths}


def _read_directly(paths: dict[str, Path]) -> dict[str, list[str]]:
    """Each split's lines without their line ends, as torchtext yields them."""
    return {split: path.read_text(encoding="utf-8").splitlines() for split, path in paths.items()}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _warn(note: str) -> str:
    """Warn with ``note`` (pointing at the caller of `ptb_corpus`) and return it."""
    warnings.warn(note, stacklevel=4)
    return note


def _concatenate(lines: Iterable[list[int]]) -> list[int]:
    return list(itertools.chain.from_iterable(lines))


def unigram_entropy(tokens: Tensor, vocab_size: int) -> float:
    """Entropy (nats) of the token frequencies in ``tokens``: the loss of the best guess that
    ignores context, on the text it was counted on."""
    counts = torch.bincount(tokens, minlength=vocab_size).double()  # (vocab,)
    frequencies = counts / counts.sum()  # (vocab,)
    return float(-torch.xlogy(frequencies, frequencies).sum())


# --- batching --------------------------------------------------------------------------


def batchify(tokens: Tensor, batch_size: int) -> Tensor:
    """Lay a stream of tokens out as ``batch_size`` columns: (num_tokens // batch_size, batch).

    Column ``b`` is the ``b``-th contiguous slice of the stream; the tail that does not fill
    a row is dropped.
    """
    rows = tokens.numel() // batch_size
    return tokens[: rows * batch_size].view(batch_size, rows).t().contiguous()  # (seq, batch)


def window_starts(source: Tensor, bptt: int) -> range:
    """Row index of every window of ``bptt`` rows in a batchified ``source`` (seq, batch)."""
    return range(0, source.size(0) - 1, bptt)


def get_window(source: Tensor, i: int, bptt: int) -> tuple[Tensor, Tensor]:
    """Rows ``[i, i + n)`` of ``source`` and rows ``[i + 1, i + 1 + n)``, its next tokens.

    ``n`` is ``bptt`` or less for the last window, since its last row needs a next token.
    Both are (n, batch) views of ``source``.
    """
    length = min(bptt, source.size(0) - 1 - i)
    return source[i : i + length], source[i + 1 : i + 1 + length]  # (n, batch) each


def get_batch(source: Tensor, i: int, bptt: int) -> tuple[Tensor, Tensor]:
    """The handout's window: data (n, batch) and flattened targets (n * batch,)."""
    data, targets = get_window(source, i, bptt)
    return data, targets.reshape(-1)


def get_batch_first(source: Tensor, i: int, bptt: int) -> tuple[Tensor, Tensor]:
    """The same window for a batch-first model: data (batch, n) and targets (batch, n).

    Targets are transposed along with the data, so that ``logits.reshape(-1, ntoken)`` of a
    (batch, n, ntoken) output lines up with ``targets.reshape(-1)``.
    """
    data, targets = get_window(source, i, bptt)
    return data.t(), targets.t()  # (batch, n) each


def load_corpus(
    data_dir: str | Path | None = None,
    splits: Sequence[str] | None = None,
    synthetic: SyntheticSpec = SyntheticSpec(),
) -> Corpus:
    """The synthetic corpus when there is no ``data_dir``, else Penn Treebank from it.

    ``splits`` default to ``("train", "valid")`` for Penn Treebank; the synthetic corpus has
    exactly those two and ignores the argument.
    """
    if data_dir is None:
        return synthetic_corpus(synthetic)
    return ptb_corpus(data_dir, splits or ("train", "valid"))
