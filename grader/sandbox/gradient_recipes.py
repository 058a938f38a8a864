"""Many forward and backward calls in one request (the loop the grader times).

Runs inside the worker; imports nothing from ``grader``. The grader times a round from
OUTSIDE the worker (``grader/timing.py``: the worker's CPU clock, or the grader's wall clock
on CUDA), so nothing here reads a clock: a submission that replaces ``time.perf_counter``
in its process changes no number the grader uses. This loop only does the work, as many
times as asked, and returns a receipt the grader checks: the output's shape, whether the
gradients reached the inputs, and the last call's output itself, which the grader compares
with the reference's on the same inputs (a fast wrong answer is caught, not credited).

The module and the recipe have neutral names on purpose: candidate code can read its call
stack, and a frame named after timing would tell it when to cut corners. (The output check
above is what makes cutting corners useless; the names only stop advertising the moment.)

The training step needs no routine here: ``training_recipes.Trainer.steps`` already runs
``count`` steps in one request, and the grader times that call the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from recipes import Context, recipe
from torch import nn

# Bound now, while the worker imports its recipes and before any candidate code runs: a
# submission that later replaces torch.autograd.backward, Tensor.backward or Tensor.sum
# (to make its own backward pass free, say) does not change what this loop calls.
_backward = torch.autograd.backward
_sum = torch.Tensor.sum
_synchronize = torch.cuda.synchronize


@recipe
def forward_backward(
    ctx: Context, function: Callable[..., Any], calls: int, *args: Any
) -> dict[str, Any]:
    """Call ``function(*args)`` ``calls`` times, each call followed by a backward pass from
    the sum of its output, and describe the last call (with its output).

    The tensors in ``args`` that require grad are the inputs differentiated (the grader
    marks them); the rest (a mask) are passed as they are. Gradients are cleared before
    every call, so each call does the same work and none accumulates into the last.
    """
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    module = function if isinstance(function, nn.Module) else None
    output: Any = None
    for _ in range(calls):
        for tensor in inputs:
            tensor.grad = None
        if module is not None:
            module.zero_grad(set_to_none=True)
        output = function(*args)
        if isinstance(output, (tuple, list)) and output:
            output = output[0]  # (values, weights) pairs: the values carry the gradient
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"it returned {type(output).__name__}, not a tensor")
        _backward(_sum(output))
    if ctx.device.type == "cuda":
        _synchronize()  # the round ends when the device is done, not when the launches are
    return {
        "shape": list(output.shape) if isinstance(output, torch.Tensor) else None,
        "gradients": all(t.grad is not None for t in inputs),
        "output": output.detach() if isinstance(output, torch.Tensor) else None,
    }
