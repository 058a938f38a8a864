"""Bug: train() calls optimizer.zero_grad() between loss.backward() and optimizer.step(), so
every step sees zero gradients and the model never learns."""

# `get_batch`, `generate_square_subsequent_mask` and `window_mask` are base.py's functions,
# which precede this entry.
# ruff: noqa: F821

import torch
from torch import Tensor, nn

CATCHES = ["training.gradients_reset"]
MAY_CATCH = ["training.candidate_loop"]


def train(
    model: nn.Module,
    train_data: Tensor,
    window_size: int,
    criterion: nn.Module,
    ntokens: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    epoch: int = 0,
    device: torch.device | None = None,
    use_causal_mask: bool = True,
    *,
    max_grad_norm: float = 0.5,
) -> None:
    """One epoch over `train_data` (seq, batch) in windows of `window_size` tokens."""
    model.train()
    full_mask = generate_square_subsequent_mask(window_size).to(device) if use_causal_mask else None
    for i in range(0, train_data.size(0) - 1, window_size):
        data, targets = get_batch(train_data, i, window_size)
        data, targets = data.to(device), targets.to(device)
        output = model(data, window_mask(full_mask, data.size(1)))  # (batch, seq, ntokens)
        loss = criterion(output.reshape(-1, ntokens), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.zero_grad()  # after backward: the step below sees no gradient
        optimizer.step()
