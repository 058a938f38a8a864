"""Correct (style): nanoGPT's: the model registers its own causal mask as a buffer and slices it to the
window in forward, so train() passes no mask; the model is causal however it is called."""

# `TransformerModelManualAttn` and `get_batch` are base.py's, which precede this entry.
# ruff: noqa: F821

import math
import time

import torch
from torch import Tensor, nn

DIFFERS_FROM_BASE = ["train_masks", "model_swap"]  # no mask passed: it masks itself


class TransformerModelManualAttn(TransformerModelManualAttn):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        causal = torch.ones(512, 512, dtype=torch.bool).tril()  # windows up to 512 tokens
        self.register_buffer("causal", causal, persistent=False)  # (block, block)

    def forward(self, src: Tensor, src_mask: Tensor | None = None) -> Tensor:
        if src_mask is None:
            length = src.size(1)
            src_mask = self.causal[:length, :length]  # (seq, seq), True = may attend
        return super().forward(src, src_mask)


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
    num_batches = len(train_data) // window_size
    total_loss = torch.zeros((), device=device)  # summed on the device: no sync per step
    start_time = time.time()
    for batch, i in enumerate(range(0, train_data.size(0) - 1, window_size)):
        data, targets = get_batch(train_data, i, window_size)
        data, targets = data.to(device), targets.to(device)
        output = model(data)  # the model applies its own causal mask
        loss = criterion(output.reshape(-1, ntokens), targets)

        optimizer.zero_grad()
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
