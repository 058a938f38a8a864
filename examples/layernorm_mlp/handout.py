# ruff: noqa
# The handout of the LayerNorm / MLP test (jupytext py:percent; these comment lines before the
# first cell are not part of it). The grader compares a submission with it line by line to tell
# the candidate's own lines apart, so it stays exactly as handed out.

# %% [markdown]
# # Coding test: normalisation, an MLP block and a training loop
#
# Your work is assessed on four things: how much of the test you complete, optimisations in
# your code, how reusable it is, and how readable it is. Do not use `nn.LayerNorm`,
# `F.layer_norm`, `nn.GELU` or `F.gelu` in parts 1 and 2.
#
# ## 1. Layer normalisation
#
# Normalise `x` over its last dimension (mean 0, variance 1, with the biased variance as
# PyTorch does), then scale by `weight` and shift by `bias`.

# %%
import math

import torch
from torch import Tensor, nn


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """
    :param x: Tensor of shape (..., dim)
    :param weight: Tensor of shape (dim,)
    :param bias: Tensor of shape (dim,)
    :param eps: added to the variance before the square root
    :return: Tensor of shape (..., dim)
    """
    # TODO
    raise NotImplementedError

# %% [markdown]
# ## 2. A residual MLP block
#
# `MLPBlock(dim, hidden)` computes `x + fc2(gelu(fc1(x)))`, where `gelu` is the exact GELU,
# `x * Phi(x)` with `Phi` the standard normal CDF.

# %%
class MLPBlock(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        # TODO
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """
        :param x: Tensor of shape (batch, seq, dim)
        :return: Tensor of shape (batch, seq, dim)
        """
        # TODO
        raise NotImplementedError

# %% [markdown]
# ## 3. A regression model and its training loop
#
# `RegressionModel(in_features, hidden)` maps `(n, in_features)` inputs to `(n,)` predictions.
# `train(model, x, y, epochs, lr)` fits it to `(x, y)` with Adam and the mean squared error.

# %%
class RegressionModel(nn.Module):
    def __init__(self, in_features: int, hidden: int):
        super().__init__()
        # TODO
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        # TODO
        raise NotImplementedError


def train(model: nn.Module, x: Tensor, y: Tensor, epochs: int = 100, lr: float = 1e-2) -> list[float]:
    """Full-batch training; returns the training loss of every epoch."""
    # TODO
    raise NotImplementedError

# %% [markdown]
# ## 4. A question
#
# **Why does layer normalisation add a small epsilon under the square root?**
#
# _Write your answer here._
