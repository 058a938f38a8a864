"""Bug: train() never calls optimizer.zero_grad(): the gradients of every window add up
over the epoch, so each step follows the sum of all earlier gradients."""

# `get_batch`, `generate_square_subsequent_mask` and `window_mask` are base.py's functions,
# which precede this entry.
# ruff: noqa: F821

import math
import time

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
    log_interval: int = 200,
) -> None:
    """One epoch over `train_data` (seq, batch) in windows of `window_size` tokens."""
    model.train()
    # Built once: every window but the last has the full length.
    full_mask = generate_square_subsequent_mask(window_size).to(device) if use_causal_mask else None
    num_batches = len(train_data) // window_size
    total_loss = torch.zeros((), device=device)  # summed on the device: no sync per step
    start_time = time.time()
    for batch, i in enumerate(range(0, train_data.size(0) - 1, window_size)):
        data, targets = get_batch(train_data, i, window_size)
        data, targets = data.to(device), targets.to(device)
        output = model(data, window_mask(full_mask, data.size(1)))  # (batch, seq, ntokens)
        loss = criterion(output.reshape(-1, ntokens), targets)

        loss.backward()
        # Clipping keeps the large learning rate (5.0 in the handout) from diverging.
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()

        total_loss += loss.detach()
        if batch % log_interval == 0 and batch > 0:
            cur_loss = total_loss.item() / log_interval
            ms_per_batch = (time.time() - start_time) * 1000 / log_interval
            print(
                f"| epoch {epoch:3d} | {batch:5d}/{num_batches:5d} batches "
                f"| lr {scheduler.get_last_lr()[0]:02.2f} | ms/batch {ms_per_batch:5.2f} "
                f"| loss {cur_loss:5.2f} | ppl {math.exp(cur_loss):8.2f}"
            )
            total_loss.zero_()
            start_time = time.time()
