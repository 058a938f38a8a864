"""What a candidate's own training loop did, step by step, judged from what the worker saw.

The worker's `generic_recipes.LoopWatch` hooks the model's gradients and every optimiser's
step while the candidate's ``train()`` runs, and reports per step: whether the first backward
pass after the previous step found gradients already there, and the gradient norm at the
step. These functions turn that record into verdicts, whatever the loss did: a loop that never
zeroes its gradients may still lower the loss for a while, and clipping after the step may
only show once a spike comes.
"""

from __future__ import annotations

from typing import Any

Verdict = tuple[str, str, dict[str, Any] | None]
"""(status, message, counterexample) of one check."""

CLIP_SLACK = 1e-3
"""Relative room over the clipping norm: clip_grad_norm_ scales to max_norm / (norm + 1e-6),
so a clipped norm can sit a hair above it."""


def gradients_reset(steps: list[dict[str, Any]], train_fn: str) -> Verdict:
    """The gradients start from zero at every optimiser step after the first, and are not
    zeroed again before the step uses them."""
    emptied = [s for s in steps if s.get("backwards") and float(s["grad_norm"]) == 0.0]
    if steps and len(emptied) == len(steps):
        return (
            "fail",
            (
                f"at each of the {len(steps)} optimiser steps of your {train_fn}() the gradients "
                "are zero (norm 0) although loss.backward() ran before it: optimizer.zero_grad() "
                "sits between loss.backward() and optimizer.step(), so every step sees zero "
                "gradients and nothing learns. Call zero_grad() before backward()"
            ),
            {"steps_with_zero_gradients": len(emptied), "steps_watched": len(steps)},
        )
    later = steps[1:]  # the first step has nothing before it to reset
    if not later:
        return (
            "skip",
            f"your {train_fn}() took fewer than two optimiser steps, so nothing could accumulate",
            None,
        )
    stale = sum(bool(s["stale"]) for s in later)
    if not stale:
        return (
            "pass",
            f"the gradients start from zero at each of the {len(later)} steps watched",
            None,
        )
    return (
        "fail",
        (
            f"in {stale} of {len(later)} optimiser steps of your {train_fn}() the gradients of the "
            "previous steps were still there when the next backward pass began: they accumulate "
            "over the loop, so each step follows the sum of all earlier gradients. Call "
            "optimizer.zero_grad() before each backward pass"
        ),
        {"steps_with_stale_gradients": stale, "steps_watched": len(later)},
    )


def clipped_before_step(steps: list[dict[str, Any]], clip: float, train_fn: str) -> Verdict:
    """Every optimiser step sees gradients clipped to ``clip`` (the handout's max norm)."""
    if not steps:
        return "skip", f"your {train_fn}() took no optimiser step", None
    norms = [float(s["grad_norm"]) for s in steps]
    over = [n for n in norms if n > clip * (1 + CLIP_SLACK)]
    if not over:
        return (
            "pass",
            (
                f"the gradient norm is at most {clip:g} at each of the {len(norms)} optimiser steps "
                f"(largest {max(norms):.3g}): clipping runs before the step"
            ),
            None,
        )
    return (
        "fail",
        (
            f"in {len(over)} of {len(norms)} optimiser steps of your {train_fn}() the gradients "
            f"reached the optimiser unclipped (norm up to {max(over):.3g}, above {clip:g}): "
            "clip_grad_norm_ must run after backward() and before optimizer.step()"
        ),
        {"steps_over_max_norm": len(over), "largest_norm": max(over), "max_norm": clip},
    )
