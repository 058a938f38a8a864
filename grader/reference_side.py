"""The reference side of the built-in training kinds, computed once (`grader.reference_cache`).

- `corpus`: the token streams and vocabulary of the training check (the synthetic corpus, or
  Penn Treebank tokenised from a data folder), keyed by the files' content;
- `lm_baseline`: the reference model's run on the grader's loop (`training.reference_baseline`),
  keyed by the corpus, the task's options and the settings; run in the reference's worker
  while the candidate's model trains in theirs (`grader.trusted.LazyReference.alongside`);
- `position_blind`: the positional test's position-blind baseline (`grader.positional`).

Each is deterministic given its key (one thread, seeded), so a value read from the cache is
the value a fresh computation gives, and so are the verdicts made from it (tested). What is
not deterministic is never kept: a baseline stopped by its time limit on a loaded machine.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from grader import reference_cache
from grader.config import GraderConfig
from grader.result import TrainingRun, from_jsonable, to_jsonable
from reference.data import Corpus, load_corpus


def settings_key(config: GraderConfig) -> dict[str, Any]:
    """Every setting a reference computation may depend on: the whole configuration but how
    submissions are taken in (``--main``, archive limits), which no reference value reads."""
    return {
        f.name: to_jsonable(getattr(config, f.name))
        for f in dataclasses.fields(config)
        if f.name != "intake"
    }


# --- the corpus ---------------------------------------------------------------------------------


def corpus(data_dir: str | None, splits: tuple[str, str]) -> Corpus:
    """`reference.data.load_corpus`, from the cache when it holds it (Penn Treebank's
    tokenising takes seconds, the synthetic chain's sampling most of one)."""
    files = {}
    if data_dir is not None:
        for split in splits:
            path = Path(data_dir, f"ptb.{split}.txt")
            files[split] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    inputs = {"data_dir": data_dir is not None, "splits": list(splits), "files": files}
    if data_dir is not None:
        inputs["folder"] = str(Path(data_dir).resolve())  # the name a corpus records
    return reference_cache.remember(
        "corpus",
        inputs,
        lambda: load_corpus(data_dir, splits),
        encode=encode_corpus,
        decode=decode_corpus,
    )


def encode_corpus(corpus: Corpus) -> dict[str, Any]:
    """JSON data of a corpus: its fields, the token streams as raw little-endian int64."""
    fields = {f.name: getattr(corpus, f.name) for f in dataclasses.fields(corpus)}
    fields["tokens"] = {
        name: base64.b64encode(
            t.to(torch.int64).contiguous().numpy().astype("<i8").tobytes()
        ).decode()
        for name, t in corpus.tokens.items()
    }
    return fields


def decode_corpus(data: dict[str, Any]) -> Corpus:
    """The inverse of `encode_corpus` (no pickle: bytes read as int64)."""
    tokens = {
        name: torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.int64)
        for name, text in data["tokens"].items()
    }
    return Corpus(
        name=data["name"],
        splits=tuple(data["splits"]),
        vocab_size=int(data["vocab_size"]),
        tokens=tokens,
        unigram_entropy=float(data["unigram_entropy"]),
        entropy_rate=None if data["entropy_rate"] is None else float(data["entropy_rate"]),
        note=data["note"],
    )


def corpus_digest(corpus: Corpus) -> str:
    """What a computation on the corpus depends on: its name, splits and every token."""
    digest = hashlib.sha256(f"{corpus.name}|{corpus.splits}|{corpus.vocab_size}".encode())
    for name in sorted(corpus.tokens):
        digest.update(name.encode())
        digest.update(corpus.tokens[name].to(torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()


# --- the language model's baseline --------------------------------------------------------------


def lm_baseline(corpus: Corpus, opts: Any, config: GraderConfig, reference: Any) -> TrainingRun:
    """The reference model's run (`grader.training.reference_baseline`) for these corpus,
    options and settings: from the cache, or run in ``reference`` (a `LazyReference`, started
    only when the run is not cached) and kept when it ran its whole budget."""
    from grader import training

    planned = config.training_budget.steps_for(opts.batches_per_epoch(corpus.train.numel()))

    def complete(run: TrainingRun) -> bool:
        return run.status in ("pass", "fail") and run.steps == planned

    inputs = {
        "corpus": corpus_digest(corpus),
        "options": to_jsonable(opts),
        "settings": settings_key(config),
    }
    return reference_cache.remember(
        "lm-baseline",
        inputs,
        lambda: training.reference_baseline(corpus, opts, config, reference.optional()),
        encode=to_jsonable,
        decode=lambda data: from_jsonable(TrainingRun, data),
        keep=complete,
    )


# --- the positional test's position-blind baseline ---------------------------------------------


def position_blind(arguments: tuple[Any, ...], compute: Callable[[], float]) -> float:
    """The position-blind validation MSE for ``arguments`` (`grader.positional._blind_loss`'s,
    every input it reads), from the cache or ``compute()``."""
    return reference_cache.remember(
        "position-blind", [str(a) for a in arguments], compute, decode=float
    )
