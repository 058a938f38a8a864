"""The interviewer's solution to the LayerNorm / MLP / regression test, and the data its
training task uses. The grader loads this file into a trusted worker of its own; it is never
shown to, or run beside, a candidate's code."""

import math

import torch
from torch import Tensor, nn


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalise ``x`` over its last dimension, then scale by ``weight`` and shift by ``bias``.

    :param x: (..., dim)
    :param weight: (dim,)
    :param bias: (dim,)
    :return: (..., dim)
    """
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    variance = x.var(dim=-1, unbiased=False, keepdim=True)  # (..., 1): the biased estimate
    return (x - mean) / torch.sqrt(variance + eps) * weight + bias  # (..., dim)


def gelu(x: Tensor) -> Tensor:
    """The exact GELU, x * Phi(x), with Phi the standard normal CDF."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class MLPBlock(nn.Module):
    """A residual MLP: x + fc2(gelu(fc1(x))), on (..., dim) inputs."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(gelu(self.fc1(x)))  # (..., dim)


class RegressionModel(nn.Module):
    """An MLP from ``in_features`` inputs to one prediction per row."""

    def __init__(self, in_features: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).squeeze(-1)  # (n,)


NOISE = 0.05
"""Standard deviation of the noise in the targets: no model predicts held-out targets better
than its variance, 0.0025 (the task's floor)."""


def make_data(seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A smooth nonlinear target of 4 features plus noise: (train_x, train_y, val_x, val_y),
    512 training and 256 validation rows."""
    gen = torch.Generator().manual_seed(seed)
    w, v = torch.randn(4, generator=gen), torch.randn(4, generator=gen)

    def rows(n: int) -> tuple[Tensor, Tensor]:
        x = torch.randn(n, 4, generator=gen)  # (n, 4)
        y = torch.sin(x @ w) + 0.5 * (x @ v) + NOISE * torch.randn(n, generator=gen)  # (n,)
        return x, y

    return (*rows(512), *rows(256))
