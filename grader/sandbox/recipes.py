"""Trusted routines the grader runs inside the worker with ``Sandbox.run(name, ...)``.

Runs inside the worker; imports nothing from ``grader``. A recipe does in one round trip
what would otherwise take many (a training loop, a timing loop), on objects the worker
holds. It computes no verdict: it returns values (losses, logits, timings) and the grader
judges them. Candidate code in the same process can patch anything here, which is why no
verdict may rest on a recipe's word alone.

A recipe is a function ``name(ctx, *args, **kwargs)`` registered with ``@recipe``. Handles in
the arguments arrive as the objects they refer to; tensors arrive on ``ctx.device``. More
recipes live in sibling modules named ``*_recipes.py`` (``from recipes import recipe``):
the sandbox binds them next to this file and the worker imports them at start-up.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

RECIPES: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class Context:
    """What a recipe may need to know about the worker it runs in."""

    device: torch.device
    seed: int


def recipe(function: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``function`` under its own name."""
    RECIPES[function.__name__] = function
    return function


def seed_everything(seed: int) -> None:
    """Seed every generator a submission may draw from (torch, numpy, random).

    Until CUDA is initialised (a CPU worker), only the CPU generator is seeded: the state is
    the one ``torch.manual_seed`` gives, without the CUDA seeding it queues, which formats a
    stack trace (reading source files past the audit hook) and cost ~1.5 ms of every reseed,
    a few hundred of them a submission."""
    random.seed(seed)
    if torch.cuda.is_initialized():
        torch.manual_seed(seed)  # every CUDA device too
    else:
        torch.default_generator.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed % 2**32)
    except ImportError:
        pass


@recipe
def echo(ctx: Context, *values: Any) -> tuple[Any, ...]:
    """Return the arguments unchanged: a round trip through the protocol."""
    return values


@recipe
def reseed(ctx: Context, seed: int) -> None:
    """Reseed the worker, so a check's random draws (dropout masks, init) are reproducible."""
    seed_everything(seed)


@recipe
def parameter_grads(
    ctx: Context, module: torch.nn.Module, *inputs: Any, **kwargs: Any
) -> dict[str, torch.Tensor | None]:
    """Run ``module(*inputs, **kwargs)``, back-propagate the sum of its output, and return
    each parameter's gradient (None for a parameter the output does not depend on)."""
    module.zero_grad(set_to_none=True)
    output = module(*inputs, **kwargs)
    if isinstance(output, (tuple, list)):
        output = output[0]  # (values, weights) pairs: the values carry the gradient
    output.float().sum().backward()
    return {name: p.grad for name, p in module.named_parameters()}
