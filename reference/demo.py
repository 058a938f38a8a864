"""Train the reference language model briefly and print its learning curve.

    python -m reference.demo                                  # the synthetic corpus
    python -m reference.demo --data-dir ../shared/data/ptb --splits valid test

The model has the handout's sizes and is trained with the handout's optimiser
(`reference.train`). On the synthetic corpus the curve is read against two exact bounds:
the unigram entropy (what a model ignoring context reaches) and the entropy rate (what no
model can beat).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import torch

from reference.data import PTB_SPLITS, Corpus, SyntheticSpec, load_corpus
from reference.model import TransformerLM
from reference.train import CurvePoint, TrainConfig, fit

HANDOUT_SIZES = {"d_model": 200, "nhead": 2, "d_hid": 200, "nlayers": 2, "dropout": 0.1}
"""emsize, nhead, d_hid, nlayers and dropout of the handout's model."""
CURVE_POINTS = 10
"""Validation measurements along the run (besides the one before training)."""
DEFAULT_STEPS = 300
"""Enough to close ~95 % of the synthetic corpus's gap, in ~15-30 s on one CPU core."""
DEFAULT_THREADS = 1
"""One thread: the model is small, and on a machine whose cores are busy with other work more
threads wait on each other (measured on two shared cores at load 3.7: 473 ms/step on two
threads, 66 ms/step on one)."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line's options (``argv`` None reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        prog="python -m reference.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data-dir",
        help="directory holding ptb.<split>.txt (e.g. ../shared/data/ptb); "
        "default: the synthetic corpus",
    )
    parser.add_argument(
        "--splits",
        nargs=2,
        metavar=("TRAIN", "VALID"),
        choices=PTB_SPLITS,
        help="Penn Treebank splits to train and validate on (default: train valid)",
    )
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="optimiser steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus and the model")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"torch intra-op threads on the CPU (default {DEFAULT_THREADS})",
    )
    args = parser.parse_args(argv)
    if args.splits and not args.data_dir:
        parser.error("--splits chooses Penn Treebank splits and needs --data-dir")
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Load the corpus, train, print the curve and the summary; the exit status."""
    args = parse_args(argv)
    try:
        corpus = load_corpus(args.data_dir, args.splits, SyntheticSpec(seed=args.seed))
    except (FileNotFoundError, ValueError) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = TransformerLM(corpus.vocab_size, **HANDOUT_SIZES).to(device)
    config = TrainConfig(steps=args.steps, eval_every=max(1, args.steps // CURVE_POINTS))
    sizes = ", ".join(f"{name}={value}" for name, value in HANDOUT_SIZES.items())
    print(f"corpus: {corpus.describe()}" + (f"; {corpus.note}" if corpus.note else ""))
    print(
        f"model: TransformerLM({sizes}), {count_parameters(model):,} parameters, on {device.type}"
    )
    print(
        f"training: SGD lr {config.lr}, clip {config.clip_norm}, batch {config.batch_size} x "
        f"{config.bptt} tokens, {config.steps} steps; validation on the first "
        f"{config.eval_windows} windows of {corpus.splits[1]!r}\n"
    )
    start = time.perf_counter()
    curve = fit(model, corpus, config)
    elapsed = time.perf_counter() - start
    print(format_curve(curve))
    print()
    print(summary(corpus, curve, elapsed))
    return 0


def count_parameters(model: torch.nn.Module) -> int:
    """Number of numbers the model learns."""
    return sum(parameter.numel() for parameter in model.parameters())


def format_curve(curve: list[CurvePoint]) -> str:
    """The curve as a table: step, training loss, validation loss (nats/token)."""
    lines = [f"{'step':>6}  {'train loss':>10}  {'val loss':>8}"]
    for point in curve:
        train = "-" if point.train_loss is None else f"{point.train_loss:.3f}"
        lines.append(f"{point.step:>6}  {train:>10}  {point.val_loss:>8.3f}")
    return "\n".join(lines)


def summary(corpus: Corpus, curve: list[CurvePoint], elapsed_s: float) -> str:
    """What the run did, in words, against the corpus's reference points."""
    first, last = curve[0], curve[-1]
    text = (
        f"Trained the reference model for {last.step} steps on {corpus.splits[0]!r} of "
        f"{corpus.name} in {elapsed_s:.1f} s ({1000 * elapsed_s / last.step:.0f} ms/step, "
        f"evaluations included). The validation loss on {corpus.splits[1]!r} went from "
        f"{first.val_loss:.3f} to {last.val_loss:.3f} nats/token. "
        f"Context-free baseline (unigram entropy): "
        f"{corpus.unigram_entropy:.3f}."
    )
    if corpus.entropy_rate is None:
        return text
    gap = corpus.unigram_entropy - corpus.entropy_rate
    closed = (corpus.unigram_entropy - last.val_loss) / gap
    return (
        f"{text} Entropy floor (the chain's entropy rate): {corpus.entropy_rate:.3f}; the "
        f"model is {last.val_loss - corpus.entropy_rate:.3f} above it and closed "
        f"{closed:.0%} of the gap between the baseline and the floor."
    )


if __name__ == "__main__":
    sys.exit(main())
