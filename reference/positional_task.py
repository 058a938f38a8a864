"""The second interview question: a learnable positional encoding, shown on a dummy task.

The task is built so that position is the whole story. Each input is a sequence of random
vectors; the target is the first feature of the vector at one fixed position, minus that
feature's mean over the sequence:

    y = (x[target_position, 0] - mean_i x[i, 0]) / sqrt(1 - 1/seq_len)

(the division makes the target's variance 1). Shuffle the positions of a sequence and the
best guess for y given only the *set* of vectors is 0, by symmetry: a model that cannot see
positions cannot beat predicting the mean, whatever its size. A model that knows positions
can learn to attend to ``target_position``, and the residual connection supplies the mean
term, so it can drive the error towards 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference.attention import MultiHeadSelfAttention
from reference.positional import LearnablePositionalEncoding


@dataclass(frozen=True)
class DummyTask:
    """Inputs (n, seq_len, d_model) and targets (n,) of the positional dummy task."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    target_position: int
    """The position whose content the target reads."""

    @property
    def seq_len(self) -> int:
        """Positions per sequence."""
        return self.train_x.size(1)

    @property
    def d_model(self) -> int:
        """Features per position."""
        return self.train_x.size(2)

    @property
    def baseline_loss(self) -> float:
        """Validation MSE of always predicting the training targets' mean: the best any
        model without positional information can do (in expectation)."""
        return float(F.mse_loss(self.val_y, self.train_y.mean().expand_as(self.val_y)))


def make_dummy_task(
    seed: int,
    seq_len: int = 8,
    d_model: int = 16,
    n_train: int = 2048,
    n_val: int = 512,
    target_position: int = 2,
) -> DummyTask:
    """Random inputs and their position-dependent targets; same seed, same task."""
    if not 0 <= target_position < seq_len:
        raise ValueError(f"target_position must be in [0, {seq_len}), got {target_position}")
    generator = torch.Generator().manual_seed(seed)

    def sample(n: int) -> tuple[Tensor, Tensor]:
        x = torch.randn(n, seq_len, d_model, generator=generator)  # (n, seq_len, d_model)
        feature = x[..., 0]  # (n, seq_len)
        # Var(x_p - mean_i x_i) = 1 - 1/seq_len for unit-variance features.
        y = (feature[:, target_position] - feature.mean(dim=1)) / math.sqrt(1 - 1 / seq_len)
        return x, y  # (n, seq_len, d_model), (n,)

    train_x, train_y = sample(n_train)
    val_x, val_y = sample(n_val)
    return DummyTask(train_x, train_y, val_x, val_y, target_position)


class SelfAttentionModel(nn.Module):
    """Learnable positions -> one residual multi-head self-attention layer -> mean over the
    sequence -> a linear read-out of one number per sequence."""

    def __init__(
        self, seq_len: int, d_model: int, n_heads: int, use_positions: bool = True
    ) -> None:
        """
        :param seq_len: longest input sequence (rows of the positional table).
        :param d_model: width of the inputs.
        :param n_heads: attention heads; must divide ``d_model``.
        :param use_positions: False drops the positional encoding, for the control
            experiment that shows what it is for.
        """
        super().__init__()
        self.positional_encoding = (
            LearnablePositionalEncoding(seq_len, d_model) if use_positions else nn.Identity()
        )
        self.attention = MultiHeadSelfAttention(d_model, n_heads)
        self.readout = nn.Linear(d_model, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, seq, d_model) -> (batch,)."""
        x = self.positional_encoding(x)  # (batch, seq, d_model)
        x = x + self.attention(x, x, x)  # (batch, seq, d_model)
        pooled = x.mean(dim=1)  # (batch, d_model)
        return self.readout(pooled).squeeze(-1)  # (batch,)


@dataclass(frozen=True)
class PositionalTrainConfig:
    """Optimiser settings of `train_on_task`."""

    steps: int = 400
    batch_size: int = 128
    lr: float = 1e-2
    """Adam's learning rate: the task is small and well conditioned, so a large one is safe."""


def train_on_task(
    model: nn.Module,
    task: DummyTask,
    config: PositionalTrainConfig = PositionalTrainConfig(),
    seed: int = 0,
) -> float:
    """Train ``model`` with Adam on minibatches of the training set; returns the validation
    MSE afterwards (compare it with ``task.baseline_loss``)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    for _ in range(config.steps):
        batch = torch.randint(task.train_x.size(0), (config.batch_size,), generator=generator)
        loss = F.mse_loss(model(task.train_x[batch]), task.train_y[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return validation_loss(model, task)


@torch.no_grad()
def validation_loss(model: nn.Module, task: DummyTask) -> float:
    """MSE of ``model`` on the task's validation set, in eval mode without a graph."""
    model.eval()
    return float(F.mse_loss(model(task.val_x), task.val_y))
