# ruff: noqa
# The handout of the positional-encoding test (jupytext py:percent; these comment lines before
# the first cell are not part of it). The grader compares a submission with it line by line to
# tell the candidate's own lines apart, so it stays exactly as handed out.

# %% [markdown]
# # Coding test
#
# Your work is assessed on four things:
#
# 1. how much of the test you complete in the time given;
# 2. optimisations in your code;
# 3. how reusable your code is;
# 4. how readable your code is.
#
# ## 1. Deep self-attention stacks
#
# **Suppose that we design a deep architecture to represent a sequence by stacking
# self-attention layers with positional encoding. What could be issues?** (paragraph format)
#
# _Write your answer here._

# %% [markdown]
# ## 2. A learnable positional encoding
#
# **Can you design a learnable positional encoding method using pytorch? (Create dummy dataset)**
#
# Complete the three pieces below, then train the model on your dummy dataset and show what
# it learns. Inputs are batch-first: `(batch_size, seq_len, d_model)`.

# %%
import torch
from torch import Tensor, nn


class LearnablePositionalEncoding(nn.Module):
    def __init__(self, max_len: int, d_model: int):
        """A learnable encoding for the positions 0 .. max_len - 1, added to the input."""
        super().__init__()
        # TODO
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """
        :param x: Tensor of shape (batch_size, seq_len, d_model), with seq_len <= max_len.
        :return: Tensor of shape (batch_size, seq_len, d_model), x with the positional encoding added.
        """
        # TODO
        raise NotImplementedError


class SelfAttentionModel(nn.Module):
    def __init__(self, seq_len: int, d_model: int, n_heads: int):
        """Self-attention over the positionally encoded input, then one prediction per sequence."""
        super().__init__()
        # TODO
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """
        :param x: Tensor of shape (batch_size, seq_len, d_model).
        :return: Tensor of shape (batch_size,) or (batch_size, 1), one prediction per sequence.
        """
        # TODO
        raise NotImplementedError


def create_dummy_data(batch_size: int, seq_len: int, d_model: int):
    """
    A dummy dataset the model can learn from.

    :return: inputs X of shape (batch_size, seq_len, d_model) and targets y of shape (batch_size,)
        or (batch_size, 1).
    """
    # TODO
    raise NotImplementedError

# %% [markdown]
# ## Training

# %%
# TODO: train SelfAttentionModel on your dummy dataset and report the training and
# validation losses.
