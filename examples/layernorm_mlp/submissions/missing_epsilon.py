# One bug on purpose: layer_norm: epsilon never added.
# %% [markdown]
# # Coding test: normalisation, an MLP block and a training loop
#
# ## 1. Layer normalisation

# %%
import math

import torch
from torch import Tensor, nn


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalise over the last dimension with the biased variance, then scale and shift.

    :param x: Tensor of shape (..., dim)
    :param weight: Tensor of shape (dim,)
    :param bias: Tensor of shape (dim,)
    :param eps: added to the variance before the square root
    :return: Tensor of shape (..., dim)
    """
    centred = x - x.mean(dim=-1, keepdim=True)  # (..., dim)
    variance = (centred**2).mean(dim=-1, keepdim=True)  # (..., 1)
    return centred * torch.rsqrt(variance) * weight + bias


# %% [markdown]
# ## 2. A residual MLP block

# %%
def gelu(x: Tensor) -> Tensor:
    """The exact GELU: x times the standard normal CDF of x."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


class MLPBlock(nn.Module):
    """x + fc2(gelu(fc1(x))) on (batch, seq, dim) inputs."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        """
        :param x: Tensor of shape (batch, seq, dim)
        :return: Tensor of shape (batch, seq, dim)
        """
        return x + self.fc2(gelu(self.fc1(x)))


# %% [markdown]
# ## 3. A regression model and its training loop

# %%
class RegressionModel(nn.Module):
    """Two linear layers with a GELU between them; one prediction per row."""

    def __init__(self, in_features: int, hidden: int):
        super().__init__()
        self.hidden = nn.Linear(in_features, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(n, in_features) -> (n,)"""
        return self.out(gelu(self.hidden(x))).squeeze(-1)


def train(model: nn.Module, x: Tensor, y: Tensor, epochs: int = 100, lr: float = 1e-2) -> list[float]:
    """Full-batch training; returns the training loss of every epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# %%
model = RegressionModel(4, 32)
history = train(model, torch.randn(64, 4), torch.randn(64))
print(f"final training loss {history[-1]:.3f}")

# %% [markdown]
# ## 4. A question
#
# **Why does layer normalisation add a small epsilon under the square root?**
#
# A row whose values are all equal has zero variance, so without epsilon we would divide by
# zero and get NaN. Even a very small variance makes the normalised values and their gradients
# blow up, so epsilon keeps the computation numerically stable.
