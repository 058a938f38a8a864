"""Properties of the candidate's self-attention model that uses the positional encoding.

Built by parameter name (see `grader.checks.binding`) for ``seq_len``
positions of ``d_model`` features and ``n_heads`` heads, called in eval mode on batch-first
``(batch, seq_len, d_model)`` inputs. The dummy task predicts one number per sequence, so
the model must return ``(batch,)`` or ``(batch, 1)``.
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st

from grader.checks import draw
from grader.checks.base import SuiteContext, Violation, run_property
from grader.checks.binding import construct, order_of, params_of
from grader.checks.positional_encoding import TOLERANCE, forward, scale
from grader.result import CheckResult

RANDOM_STD = 0.5
"""Scale of the redrawn weights in `uses_positions`: large enough that positions matter at
random initialisation, small enough that attention does not saturate into ties."""


def model_cases() -> st.SearchStrategy[draw.ModelShape]:
    """(batch, seq, heads, head_dim) with batch >= 2 and batch != seq, so that a prediction per
    position, or one squeezed batch, cannot pass for one prediction per sequence."""
    return st.builds(
        draw.ModelShape,
        batch=st.integers(2, 4),
        seq=st.integers(2, 10),
        heads=st.sampled_from((1, 2, 4)),
        head_dim=st.integers(2, 6),
        seed=draw.seeds(),
    ).filter(lambda s: s.batch != s.seq)


def model_values(seq_len: int, d_model: int, n_heads: int) -> dict[str, Any]:
    """Everything a candidate's model constructor may ask for, by role."""
    return {
        "max_len": seq_len,
        "d_model": d_model,
        "n_heads": n_heads,
        "dropout": 0.0,
        "n_layers": 1,
        "out_dim": 1,
        "d_ff": 2 * d_model,
    }


def run(ctx: SuiteContext) -> list[CheckResult]:
    w = ctx.worker
    name = ctx.symbol
    params = params_of(ctx.shared.get("symbols", {}), name)
    order = order_of(ctx.task.options, "seq_len, d_model, n_heads")

    def build(s: draw.ModelShape) -> Any:
        return construct(w, name, params, model_values(s.seq, s.dim, s.heads), order)

    def output_shape(s: draw.ModelShape) -> None:
        out = forward(
            w, build(s), draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=torch.float32)
        )
        if tuple(out.shape) not in ((s.batch,), (s.batch, 1)):
            raise Violation(
                f"the model returned shape {tuple(out.shape)} for a {(s.batch, s.seq, s.dim)} batch; "
                f"one prediction per sequence is ({s.batch},) or ({s.batch}, 1)",
                **s.describe(),
            )

    def uses_positions(s: draw.ModelShape) -> None:
        model = build(s)
        w.run("positional_randomize", model, s.seed, RANDOM_STD)
        x = draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=torch.float32)
        swapped = x.clone()
        swapped[:, [0, 1]] = x[:, [1, 0]]  # the same vectors, two positions exchanged
        first, second = forward(w, model, x), forward(w, model, swapped)
        moved = float((first - second).abs().max()) if first.shape == second.shape else float("inf")
        if moved <= TOLERANCE * scale(first):
            raise Violation(
                f"exchanging the inputs at positions 0 and 1 leaves the output unchanged (max change "
                f"{moved:.2g}, with random weights): the model ignores positions. Is the encoding added "
                "to the input before attention, and different at each position?",
                max_change=moved,
                **s.describe(),
            )

    return [
        run_property(
            ctx,
            "output_shape",
            model_cases(),
            output_shape,
            passed="one prediction per sequence, (batch,) or (batch, 1)",
        ),
        run_property(
            ctx,
            "uses_positions",
            model_cases(),
            uses_positions,
            passed="the output depends on the order of the inputs (positions reach the model)",
        ),
    ]
