"""Trusted routines for the generic kinds (function, module, training), run inside the worker
(imports nothing from ``grader``).

They read and set a module's parameters, predict in eval mode, train a model on data the
grader sends, and watch a training loop's optimiser steps and backward passes. They return
raw values only: every verdict (does the module match the reference, did the held-out loss
fall, were the gradients reset between steps) is reached by the grader from what comes back.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from recipes import Context, recipe
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook


@recipe
def named_parameters(ctx: Context, module: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter of ``module`` by name, detached, on the CPU."""
    return {n: p.detach().cpu() for n, p in module.named_parameters()}


@recipe
def set_parameters(ctx: Context, module: nn.Module, values: dict[str, torch.Tensor]) -> None:
    """Copy ``values`` (name -> tensor) into the parameters of those names."""
    parameters = dict(module.named_parameters())
    with torch.no_grad():
        for name, value in values.items():
            parameters[name].copy_(value.to(parameters[name].device, parameters[name].dtype))


@recipe
def predict(ctx: Context, model: nn.Module, *inputs: Any) -> Any:
    """``model(*inputs)`` in eval mode without gradients."""
    model.to(ctx.device).eval()
    with torch.no_grad():
        out = model(*inputs)
    return out.cpu() if isinstance(out, torch.Tensor) else out


LOSSES = {"mse": F.mse_loss, "cross_entropy": F.cross_entropy}
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


class Trainer:
    """The grader's loop: an optimiser on minibatches of the training set the grader sent;
    ``steps`` continues where the previous call stopped."""

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        loss: str,
        optimizer: str,
        lr: float,
        batch_size: int,
        seed: int,
        device: torch.device,
    ) -> None:
        self.model = model.to(device)
        self.x, self.y = x.to(device), y.to(device)
        self.loss = LOSSES[loss]
        self.batch_size = min(batch_size, x.size(0))
        self.optimizer = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
        self.generator = torch.Generator().manual_seed(seed)

    def steps(self, count: int) -> list[float]:
        """Train ``count`` steps; returns each step's training loss."""
        self.model.train()
        losses = []
        for _ in range(count):
            batch = torch.randint(self.x.size(0), (self.batch_size,), generator=self.generator)
            batch = batch.to(self.x.device)
            prediction = self.model(self.x[batch])
            target = self.y[batch]
            if prediction.shape != target.shape and prediction.numel() == target.numel():
                prediction = prediction.reshape(target.shape)  # (n, 1) against (n,)
            loss = self.loss(prediction, target)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(float(loss.detach()))
        return losses


@recipe
def generic_trainer(
    ctx: Context,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    optimizer: str,
    lr: float,
    batch_size: int,
    seed: int,
) -> Trainer:
    """A trainer for ``model`` on (x, y); the grader calls its ``steps`` chunk by chunk."""
    return Trainer(model, x, y, loss, optimizer, lr, batch_size, seed, ctx.device)


class LoopWatch:
    """What a training loop did, step by step: for each optimiser step, whether the first
    backward pass after the previous step found gradients already there (not reset), and the
    gradient norm at the step. Gradients are watched on ``model``'s parameters only."""

    def __init__(self, model: nn.Module) -> None:
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.steps: list[dict[str, Any]] = []
        self.backwards_since_step = 0
        self.stale_since_step = False
        self.hooks = [p.register_hook(self._on_grad) for p in self.parameters[:1]]
        self.step_hook = register_optimizer_step_pre_hook(self._on_step)

    def _on_grad(self, grad: torch.Tensor) -> torch.Tensor:
        # Runs when this parameter's gradient is computed, before it is added to .grad: what
        # .grad holds now is what the earlier backward passes left there.
        if self.backwards_since_step == 0 and self.steps:
            held = self.parameters[0].grad
            self.stale_since_step = held is not None and bool(held.abs().sum() > 0)
        self.backwards_since_step += 1
        return grad

    def _on_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        norms = [p.grad.detach().norm() for p in self.parameters if p.grad is not None]
        total = float(torch.stack(norms).norm()) if norms else 0.0
        self.steps.append(
            {
                "backwards": self.backwards_since_step,
                "stale": self.stale_since_step,
                "grad_norm": total,
            }
        )
        self.backwards_since_step = 0
        self.stale_since_step = False

    def report(self) -> list[dict[str, Any]]:
        """The steps seen so far; the watch stops (its hooks are removed)."""
        for hook in self.hooks:
            hook.remove()
        self.step_hook.remove()
        return self.steps


@recipe
def watch_loop(ctx: Context, model: nn.Module) -> LoopWatch:
    """Start watching ``model``'s gradients and every optimiser's steps."""
    return LoopWatch(model)
