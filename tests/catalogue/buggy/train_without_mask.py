"""Bug: train() never passes the causal mask to the model (evaluate() does), so the model
trains seeing the next token and is evaluated without it."""

# `get_batch` is base.py's function, which precedes this entry.
# ruff: noqa: F821

import torch
from torch import Tensor, nn

CATCHES = ["training.mask_reaches_model"]
MAY_CATCH = ["training.not_too_good", "training.candidate_loop"]


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
) -> None:
    model.train()
    for i in range(0, train_data.size(0) - 1, window_size):
        data, targets = get_batch(train_data, i, window_size)
        output = model(data.to(device))  # the mask is never passed
        loss = criterion(output.reshape(-1, ntokens), targets.to(device))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
