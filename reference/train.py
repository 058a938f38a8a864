"""Training and evaluation of the language model, as the handout sets them up.

SGD at lr 5.0, gradient norm clipped to 0.5, the learning rate decayed by 0.95 after each
epoch (``StepLR(step_size=1, gamma=0.95)`` stepped once per epoch), windows of 35 tokens.

The model is batch-first, so each (seq, batch) window of the batchified data is transposed
to (batch, seq) together with its targets (`reference.data.get_batch_first`). Feeding the
(seq, batch) window straight in, as the handout's loop does, swaps the roles of time and
batch: the causal mask then runs across the 20 unrelated streams instead of along the text.

The pieces are separate so that a loop driving another model can reuse them:
`train_step` does one optimiser step, `evaluate` scores windows, `fit` runs a step budget.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference.data import Corpus, batchify, get_batch_first, window_starts
from reference.masks import causal_mask


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run; the defaults are the handout's."""

    lr: float = 5.0
    clip_norm: float = 0.5
    """Largest gradient norm: SGD at lr 5 diverges on the occasional large gradient without it."""
    lr_gamma: float = 0.95
    """Learning-rate factor applied after every epoch."""
    batch_size: int = 20
    eval_batch_size: int = 10
    bptt: int = 35
    """Tokens per training window (the handout's window_size)."""
    steps: int = 150
    """Optimiser steps of a `fit` run."""
    eval_every: int = 25
    """Steps between two validation measurements."""
    eval_windows: int | None = 8
    """Validation windows scored at each measurement (always the first ones, so two
    measurements differ only by the training between them); None scores the whole split."""


class CurvePoint(NamedTuple):
    """One measurement of a training run (losses in nats per token)."""

    step: int
    train_loss: float | None
    """Mean training loss since the previous point; None before any training."""
    val_loss: float


def next_token_loss(logits: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of (batch, seq, ntoken) logits against (batch, seq) next tokens."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction=reduction)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Tensor,
    targets: Tensor,
    mask: Tensor | None,
    clip_norm: float,
) -> Tensor:
    """One optimiser step on a window: data and targets (batch, seq).

    Returns the loss as a detached 0-d tensor on the model's device: reading it as a number
    waits for the device, so callers do that only when they log.
    """
    optimizer.zero_grad(set_to_none=True)
    loss = next_token_loss(model(data, mask), targets)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.detach()


def batch_first_windows(source: Tensor, bptt: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Each window of a batchified ``source`` (seq, batch), in order, as
    (data (batch, n), targets (batch, n), causal mask (n, n))."""
    # One mask serves every window: the causal mask of a shorter window is its top-left corner.
    full_mask = causal_mask(bptt, device=source.device)  # (bptt, bptt)
    for start in window_starts(source, bptt):
        data, targets = get_batch_first(source, start, bptt)  # (batch, n) each
        length = data.size(1)
        yield data, targets, full_mask[:length, :length]


def repeat_epochs(
    source: Tensor, bptt: int, end_of_epoch: Callable[[], object]
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """The windows of `batch_first_windows`, epoch after epoch without end, calling
    ``end_of_epoch`` (e.g. a scheduler's ``step``) after each full pass."""
    while True:
        yield from batch_first_windows(source, bptt)
        end_of_epoch()


def train_epoch(
    model: nn.Module, source: Tensor, optimizer: torch.optim.Optimizer, config: TrainConfig
) -> float:
    """One pass over a batchified ``source`` (seq, batch); returns the mean training loss."""
    model.train()
    losses = [
        train_step(model, optimizer, data, targets, mask, config.clip_norm)
        for data, targets, mask in batch_first_windows(source, config.bptt)
    ]
    return torch.stack(losses).mean().item()


@torch.no_grad()
def evaluate(model: nn.Module, source: Tensor, bptt: int, max_windows: int | None = None) -> float:
    """Mean loss per token over the first ``max_windows`` windows of ``source`` (all if None).

    Runs in eval mode (no dropout) and without building a graph; every token counts once, so
    a short last window weighs what it holds.
    """
    model.eval()
    total_loss, total_tokens = torch.zeros((), device=source.device), 0
    for data, targets, mask in itertools.islice(batch_first_windows(source, bptt), max_windows):
        total_loss += next_token_loss(model(data, mask), targets, reduction="sum")
        total_tokens += targets.numel()
    return total_loss.item() / total_tokens


def fit(model: nn.Module, corpus: Corpus, config: TrainConfig = TrainConfig()) -> list[CurvePoint]:
    """Train ``model`` for ``config.steps`` steps on the corpus's training split.

    Epochs repeat the training split as often as the budget needs, decaying the learning
    rate after each. The validation loss is measured before training and every
    ``config.eval_every`` steps (and at the end).

    :return: the curve, starting with ``(0, None, loss before training)``.
    """
    device = next(model.parameters()).device
    train_data = batchify(corpus.train, config.batch_size).to(device)  # (seq, batch)
    val_data = batchify(corpus.valid, config.eval_batch_size).to(device)  # (seq, eval_batch)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=config.lr_gamma)

    def validation_loss() -> float:
        return evaluate(model, val_data, config.bptt, config.eval_windows)

    curve = [CurvePoint(0, None, validation_loss())]
    losses: list[Tensor] = []
    windows = repeat_epochs(train_data, config.bptt, end_of_epoch=scheduler.step)
    model.train()
    for step, (data, targets, mask) in enumerate(itertools.islice(windows, config.steps), 1):
        losses.append(train_step(model, optimizer, data, targets, mask, config.clip_norm))
        if step % config.eval_every == 0 or step == config.steps:
            train_loss = torch.stack(losses).mean().item()
            curve.append(CurvePoint(step, train_loss, validation_loss()))
            losses.clear()
            model.train()  # evaluate() left the model in eval mode
    return curve
