"""A small submission written the way the quality rules want: they must find nothing here.

Read as text by the tests, never imported: it is the clean baseline every rule is checked
against (no finding, readability at least 95).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

LOG_EVERY = 100
"""Training steps between two log lines."""


def pick_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def causal_mask(size: int, device: torch.device | None = None) -> Tensor:
    """Boolean (size, size) mask keeping each position and the ones before it."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def cached_mask(mask: Tensor | None, size: int, device: torch.device) -> Tensor:
    """``mask`` when it already fits a window of ``size`` tokens, else a new causal mask."""
    if mask is None or mask.size(0) != size:
        return causal_mask(size, device)
    return mask


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused query/key/value projection."""

    def __init__(self, dim: int, n_heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """(batch, seq, dim) -> (batch, seq, dim); ``mask`` keeps pairs where it is True."""
        batch, seq, dim = x.shape
        query, key, value = (
            part.view(batch, seq, self.n_heads, -1).transpose(1, 2)  # (batch, heads, seq, head_dim)
            for part in self.qkv(x).chunk(3, dim=-1)
        )
        scores = (
            query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))
        )  # (batch, heads, seq, seq)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = self.dropout(scores.softmax(dim=-1))
        joined = (weights @ value).transpose(1, 2).reshape(batch, seq, dim)
        return self.out(joined)


def train_epoch(
    model: nn.Module,
    batches: list[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    clip: float = 0.5,
) -> float:
    """One pass over ``batches`` of (inputs, targets); returns the mean training loss."""
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    total = torch.zeros((), device=device)
    mask = None
    for step, (inputs, targets) in enumerate(batches):
        inputs, targets = inputs.to(device), targets.to(device)
        mask = cached_mask(mask, inputs.size(1), device)
        logits = model(inputs, mask)
        loss = loss_fn(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        total += loss.detach()
        if step % LOG_EVERY == 0:
            print(f"step {step}: loss {loss.item():.3f}")
    return total.item() / max(len(batches), 1)


@torch.no_grad()
def evaluate(model: nn.Module, batches: list[tuple[Tensor, Tensor]], device: torch.device) -> float:
    """Mean loss over ``batches``, without recording a graph."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss()
    losses, mask = [], None
    for inputs, targets in batches:
        mask = cached_mask(mask, inputs.size(1), device)
        logits = model(inputs.to(device), mask)
        losses.append(loss_fn(logits.flatten(0, 1), targets.to(device).flatten()))
    return torch.stack(losses).mean().item()
