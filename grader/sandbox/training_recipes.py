"""Trusted training routines that run inside the worker (imports nothing from ``grader``).

The grader's training check drives the candidate's model through these: a step loop with
SGD, gradient clipping and StepLR as the handout's loop does, logits for windows the grader
chose, and the objects a candidate's own ``train()`` expects. They report raw values only;
the validation loss is computed by the grader from the logits.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from recipes import Context, recipe
from torch import nn


class Trainer:
    """SGD (or Adam) + clipping + StepLR on one model; ``steps`` continues where the last call stopped."""

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        clip: float,
        gamma: float,
        device: torch.device,
        optimizer: str = "sgd",
    ) -> None:
        self.model = model.to(device)
        self.device = device
        self.clip = clip
        self.criterion = nn.CrossEntropyLoss()
        optimizers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
        self.optimizer = optimizers[optimizer](model.parameters(), lr=lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=gamma)

    def steps(
        self, source: torch.Tensor, first: int, count: int, bptt: int, mask: torch.Tensor | None
    ) -> list[float]:
        """Train on ``count`` consecutive windows of ``source`` (seq, batch), starting at window
        ``first`` (wrapping around); returns each step's training loss."""
        self.model.train()
        source = source.to(self.device)
        windows = max(1, (source.size(0) - 1) // bptt)
        losses = []
        for step in range(first, first + count):
            i = (step % windows) * bptt
            data = source[i : i + bptt].t()  # (batch, bptt): the model is batch-first
            targets = source[i + 1 : i + 1 + bptt].t()  # (batch, bptt)
            logits = self.model(data, mask)  # (batch, bptt, ntoken)
            loss = self.criterion(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.optimizer.step()
            losses.append(float(loss.detach()))
            if (step + 1) % windows == 0:
                self.scheduler.step()  # one epoch done, as the handout steps per epoch
        return losses


@recipe
def lm_trainer(
    ctx: Context, model: nn.Module, lr: float, clip: float, gamma: float, optimizer: str = "sgd"
) -> Trainer:
    """A trainer for ``model``; the grader calls its ``steps`` method chunk by chunk."""
    return Trainer(model, lr, clip, gamma, ctx.device, optimizer)


@recipe
def fresh_lm_logits(
    ctx: Context, model: nn.Module, data: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """`lm_logits` on a deep copy of ``model``: a copy made now has seen nothing of ``data``,
    so a model that keeps what it was shown (a cache keyed by the window) cannot answer from
    an earlier call. The copy is dropped after."""
    return lm_logits(ctx, copy.deepcopy(model), data, mask)


class BatchFirst(nn.Module):
    """A seq-first language model seen batch-first: (batch, seq) tokens in, (batch, seq,
    ntoken) logits out. The grader's loop and checks are batch-first; a model written seq-first
    throughout (as PyTorch's word-language-model example is) is graded through this view, so
    the checks judge the model rather than its layout, which the report names on its own."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, src: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.model(src.t(), mask)  # (seq, batch) in, (seq, batch, ntoken) out
        return logits.transpose(0, 1)  # (batch, seq, ntoken)


@recipe
def batch_first_view(ctx: Context, model: nn.Module) -> BatchFirst:
    """``model`` (seq-first) behind a batch-first `BatchFirst` view, sharing its parameters."""
    return BatchFirst(model)


@recipe
def lm_logits(
    ctx: Context, model: nn.Module, data: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Logits (batch, seq, ntoken) for a batch-first window, in eval mode without gradients."""
    model.eval()
    with torch.no_grad():
        out = model(
            data.to(ctx.device),
            None if mask is None else mask[..., : data.size(1), : data.size(1)].to(ctx.device),
        )
    return out.float().cpu() if isinstance(out, torch.Tensor) else out


class RecordingLoss(nn.CrossEntropyLoss):
    """The handout's criterion, keeping what its first ``limit`` calls were given, so that the
    grader can see which token each row of logits was asked to predict."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if len(self.calls) < self.limit:
            self.calls.append((logits.detach().cpu().clone(), targets.detach().cpu().clone()))
        return super().forward(logits, targets)


@recipe
def training_objects(
    ctx: Context, model: nn.Module, lr: float, record_losses: int = 0
) -> tuple[Any, Any, Any]:
    """The criterion, optimizer and scheduler the handout's ``train()`` takes; with
    ``record_losses``, a criterion that keeps its first calls' inputs (see `loss_calls`)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return (
        RecordingLoss(record_losses) if record_losses else nn.CrossEntropyLoss(),
        optimizer,
        torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.95),
    )


@recipe
def loss_calls(ctx: Context, criterion: nn.Module) -> list[list[torch.Tensor]]:
    """The ``[logits, targets]`` a `RecordingLoss` was called with, in call order."""
    return [[logits, targets] for logits, targets in getattr(criterion, "calls", [])]


class ModeWatch:
    """Whether ``model`` was in training mode, and gradients were on, at each forward call."""

    def __init__(self, model: nn.Module, limit: int = 64) -> None:
        self.calls: list[list[bool]] = []
        self.limit = limit
        self.hook = model.register_forward_pre_hook(self._seen)

    def _seen(self, module: nn.Module, args: Any) -> None:
        if len(self.calls) < self.limit:
            self.calls.append([bool(module.training), torch.is_grad_enabled()])

    def modes(self) -> list[list[bool]]:
        """``[training, grad_enabled]`` per forward call, in call order."""
        return self.calls

    def stop(self) -> None:
        self.hook.remove()


@recipe
def watch_modes(ctx: Context, model: nn.Module) -> ModeWatch:
    """Start a `ModeWatch` on ``model`` (the grader reads it, then stops it)."""
    return ModeWatch(model)
