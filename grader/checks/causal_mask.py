"""Properties of the candidate's causal mask, tested through their own attention.

We never compare mask tensors with ours. We give the candidate's mask to the candidate's
attention and check what a causal mask is for: outputs at positions <= t do not change
when inputs after t change, and every position attends to itself.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader.checks import draw
from grader.checks.attention import skip
from grader.checks.base import (
    NotApplicable,
    SuiteContext,
    Violation,
    assert_no_leak,
    max_abs_diff,
    raised,
    run_probe,
    run_property,
)
from grader.checks.mask_source import PROBE_LENGTH, MaskSource, shown
from grader.checks.masks import identify
from grader.result import CheckResult
from grader.sandbox import CandidateError


def run(ctx: SuiteContext) -> list[CheckResult]:
    source: MaskSource = ctx.shared["mask_source"]
    w = ctx.worker
    attention_fn = ctx.symbol_of_kind("attention")

    if source.style is None:
        reason = source.detail
        return [
            CheckResult(
                name=f"{ctx.task.id}.convention",
                task=ctx.task.id,
                status="fail",
                message=reason,
                counterexample=source.evidence or None,
            ),
            *(skip(ctx, n, f"not run: {reason}") for n in ("causal", "attends_self", "length_one")),
            skip(ctx, "other_length", f"not run: {reason}", criterion="reusability"),
        ]
    if attention_fn is None:
        return [
            CheckResult(
                name=f"{ctx.task.id}.convention",
                task=ctx.task.id,
                status="pass",
                message=source.detail,
            ),
            *(
                skip(ctx, n, "not run: no attention function to apply the mask with")
                for n in ("causal", "attends_self", "length_one")
            ),
            skip(ctx, "other_length", "not run: no attention function", criterion="reusability"),
        ]

    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, length: int) -> torch.Tensor:
        mask = source.mask(w, length, q.dtype)
        out = w.call(attention_fn, q, k, v, mask=mask)
        if not isinstance(out, torch.Tensor) or out.shape != q.shape:
            raise Violation(
                f"attention with your mask returned {getattr(out, 'shape', type(out).__name__)}, expected {tuple(q.shape)}"
            )
        return out

    def convention() -> str:
        if source.fixed_length is not None:
            # The convention is known (the other suites use it), but not from a mask of the
            # length asked for: the function is not a causal mask of its argument.
            raise Violation(
                f"{source.detail}; a causal mask must be built for the length it is given",
                asked_length=PROBE_LENGTH,
                returned_length=source.fixed_length,
            )
        return f"convention identified: {source.detail}"

    @st.composite
    def cut(draw_: st.DrawFn) -> tuple[draw.AttnShape, int]:
        shape = draw_(draw.attn_shapes(min_len=2))
        return shape, draw_(st.integers(0, shape.len_q - 2))

    def causal(example: tuple[draw.AttnShape, int]) -> None:
        shape, t = example
        q, k, v = draw.qkv(shape)
        noise_k = draw.randn(*k.shape, seed=shape.seed + 5)
        noise_v = draw.randn(*v.shape, seed=shape.seed + 6)
        k2, v2 = k.clone(), v.clone()
        k2[..., t + 1 :, :] += noise_k[..., t + 1 :, :]  # perturb keys and values after t only
        v2[..., t + 1 :, :] += noise_v[..., t + 1 :, :]
        before, after = attend(q, k, v, shape.len_q), attend(q, k2, v2, shape.len_q)
        moved = (
            (before[..., : t + 1, :] - after[..., : t + 1, :]).abs().amax(dim=(0, 1, 3))
        )  # (t+1,)
        assert_no_leak(
            moved, t, q.dtype, "the output", inputs="keys and values", **shape.describe()
        )

    def attends_self(shape: draw.AttnShape) -> None:
        length = shape.len_q
        q, k, _ = draw.qkv(shape)  # head_dim == length, see the strategy below
        eye = torch.eye(length, dtype=q.dtype).expand(shape.batch, shape.heads, length, length)
        # With one-hot values the output rows ARE the attention weights: (B, H, L, L).
        weights = attend(q, k, eye.contiguous(), length)
        if bool(weights.isnan().any()):
            row = int(weights.isnan().any(dim=-1).flatten(0, -2).any(dim=0).nonzero()[0])
            raise Violation(
                f"row {row} of the attention weights is NaN: every key of that query is masked "
                "(a causal mask must let each position attend to itself)",
                nan_row=row,
                **shape.describe(),
            )
        diagonal = weights.diagonal(dim1=-2, dim2=-1)  # (B, H, L)
        if bool((diagonal <= 0).any()):
            position = int((diagonal <= 0).flatten(0, -2).any(dim=0).nonzero()[0])
            raise Violation(
                f"position {position} gives itself zero attention weight: the diagonal is masked",
                position=position,
                **shape.describe(),
            )

    def length_one() -> str:
        shape = draw.AttnShape(batch=2, heads=2, len_q=1, len_k=1, head_dim=4, seed=3)
        q, k, v = draw.qkv(shape)
        mask = w.call(source.function, 1) if source.function else source.mask(w, 1, q.dtype)
        facts = {**shown(mask), **shape.describe()}
        try:
            out = w.call(attention_fn, q, k, v, mask=mask)
        except CandidateError as exc:
            raise Violation(
                f"your attention with your mask for length 1 (shape {facts.get('mask_shape')}) raised {raised(exc)}",
                error=raised(exc),
                **facts,
            ) from None
        if not isinstance(out, torch.Tensor) or out.shape != v.shape:
            raise Violation(
                f"for length 1 the mask gives an output of shape {getattr(out, 'shape', type(out).__name__)}, "
                f"expected {tuple(v.shape)}",
                **facts,
            )
        if not torch.allclose(out, v, atol=1e-9):
            got = (
                "NaN: the only key is masked"
                if bool(out.isnan().any())
                else f"off by up to {max_abs_diff(out, v):.3g}"
            )
            raise Violation(
                f"with one position the output must equal the value at that position; it is {got}",
                **facts,
            )
        return "works for a sequence of length 1"

    def other_length(length: int) -> None:
        if source.function is None:
            raise NotApplicable("the mask is built inline, not by a function of the length")
        mask = w.call(source.function, length)
        style = identify(mask, length)
        if isinstance(style, str):
            raise Violation(
                f"{source.function}({length}) is not a causal mask of length {length}: {style}",
                length=length,
            )

    results = [
        run_probe(ctx, "convention", convention, passed="convention identified"),
        run_property(
            ctx,
            "causal",
            cut(),
            causal,
            passed="outputs never depend on later positions (perturbing inputs after t leaves positions <= t unchanged)",
        ),
        run_property(
            ctx,
            "attends_self",
            square_shapes(),
            attends_self,
            passed="each position attends to itself (no NaN rows, the diagonal is kept)",
        ),
        run_probe(ctx, "length_one", length_one, passed="works for length 1"),
    ]
    if source.function is None and len({n for n, _ in source.observed}) < 2:
        results.append(
            skip(
                ctx,
                "other_length",
                "the mask is built inline and was observed at one length only",
                criterion="reusability",
            )
        )
    else:
        results.append(
            run_property(
                ctx,
                "other_length",
                st.integers(2, 64).filter(lambda n: n != PROBE_LENGTH),
                other_length,
                passed="produces a causal mask for any length, not only a hard-coded one",
                criterion="reusability",
            )
        )
    return results


@st.composite
def square_shapes(draw_: st.DrawFn) -> draw.AttnShape:
    """Shapes with head_dim == length, so one-hot values read the weights out directly."""
    length = draw_(st.integers(1, 10))
    return draw.AttnShape(
        batch=draw_(st.integers(1, 2)),
        heads=draw_(st.integers(1, 2)),
        len_q=length,
        len_k=length,
        head_dim=length,
        seed=draw_(draw.seeds()),
    )
