"""Properties of the candidate's scaled dot-product attention function.

Called as the handout does: ``attention(query, key, value, mask=None, dropout=None)`` on
(batch, heads, seq, head_dim) tensors. Values are float64 so the comparison with the
reference can use PyTorch's float64 tolerances.
"""

from __future__ import annotations

import torch

from grader.checks import draw
from grader.checks.base import SuiteContext, Violation, assert_close, run_probe, run_property
from grader.checks.masks import MaskStyle
from grader.result import CheckResult
from reference.attention import attention as reference_attention

LARGE_SCALE = 30.0
"""Query and key entries of this size give logits of order 1e3 * head_dim: exp overflows float32."""


def run(ctx: SuiteContext) -> list[CheckResult]:
    fn = ctx.symbol
    w = ctx.worker
    source = ctx.shared.get("mask_source")
    style: MaskStyle | None = source.style if source is not None else None

    def call(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        dropout: object = None,
    ) -> torch.Tensor:
        return w.call(fn, q, k, v, mask=mask, dropout=dropout)

    def output_shape(s: draw.AttnShape) -> None:
        q, k, v = draw.qkv(s)
        out = call(q, k, v)
        expected = (s.batch, s.heads, s.len_q, s.head_dim)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise Violation(f"output has shape {got}, expected {expected}", **s.describe())

    def matches_reference(s: draw.AttnShape) -> None:
        q, k, v = draw.qkv(s)
        out = call(q, k, v)
        expected = reference_attention(q, k, v)
        hint = (
            lookalike(q, k, v, out)
            if isinstance(out, torch.Tensor) and out.shape == expected.shape
            else ""
        )
        assert_close(out, expected, f"attention without a mask{hint}", **s.describe())

    def matches_reference_masked(s: draw.AttnShape) -> None:
        assert style is not None
        q, k, v = draw.qkv(s)
        keep = random_keep(s.len_q, s.seed)  # (L, L), the diagonal always kept
        given = style.encode(keep, q.dtype)
        out = call(q, k, v, mask=given)
        expected = reference_attention(q, k, v, mask=keep)
        assert_close(
            out,
            expected,
            f"attention with a mask in your convention ({style.describe()})",
            mask_may_attend=keep.int().tolist(),
            mask_given=given.tolist(),
            **s.describe(),
        )

    def weights_are_distribution(s: draw.AttnShape) -> None:
        q, k, _ = draw.qkv(s)
        row = draw.randn(s.head_dim, seed=s.seed + 3)  # (d,)
        v = row.expand(
            s.batch, s.heads, s.len_k, s.head_dim
        ).contiguous()  # every key has the same value
        out = call(q, k, v)
        assert_close(
            out,
            row.expand(s.batch, s.heads, s.len_q, s.head_dim),
            "with every value equal to the same vector, each output must be that vector "
            "(the attention weights of a query must sum to 1)",
            against="that vector",
            **s.describe(),
        )

    def large_logits_finite(s: draw.AttnShape) -> None:
        q, k, v = draw.qkv(s, dtype=torch.float32, scale=LARGE_SCALE)  # logits of order 1e3 * d
        out = call(q, k, v)
        largest = (
            float((q @ k.transpose(-2, -1)).abs().max()) / s.head_dim**0.5
        )  # the largest scaled logit
        if not isinstance(out, torch.Tensor) or not bool(torch.isfinite(out).all()):
            raise Violation(
                f"attention logits as large as {largest:.3g} give NaN or inf (float32): subtract the row "
                "maximum before exp (torch.softmax does this for you)",
                dtype="float32",
                input_scale=LARGE_SCALE,
                largest_logit=largest,
                **s.describe(),
            )
        low, high = v.amin(dim=-2, keepdim=True), v.amax(dim=-2, keepdim=True)
        if bool((out < low - 1e-3).any() or (out > high + 1e-3).any()):
            raise Violation(
                f"with logits as large as {largest:.3g} the output leaves the range of the values: it is no "
                "longer a weighted average of them",
                dtype="float32",
                input_scale=LARGE_SCALE,
                largest_logit=largest,
                **s.describe(),
            )

    def cross_lengths(s: draw.AttnShape) -> None:
        q, k, v = draw.qkv(s)
        assert_close(
            call(q, k, v),
            reference_attention(q, k, v),
            "query and key lengths differ",
            **s.describe(),
        )

    def dropout_none_deterministic(s: draw.AttnShape) -> None:
        q, k, v = draw.qkv(s)
        first, second = call(q, k, v, dropout=None), call(q, k, v, dropout=None)
        if not torch.allclose(first, second, rtol=0, atol=0, equal_nan=True):
            raise Violation(
                "two calls with dropout=None differ: some randomness is applied anyway",
                **s.describe(),
            )

    def dropout_respected() -> str:
        shape = draw.AttnShape(batch=2, heads=2, len_q=8, len_k=8, head_dim=8, seed=7)
        q, k, v = draw.qkv(shape)
        plain = call(q, k, v)
        drop = w.torch_new("nn.Dropout", p=0.5)
        w.call_method(drop, "train")
        dropped = call(q, k, v, dropout=drop)
        if torch.equal(dropped, plain):
            raise Violation(
                "a dropout module in training mode was passed but the output is unchanged: "
                "dropout is not applied to the attention weights",
                **shape.describe(),
            )
        # Equal scores (zero queries): every weight is 1/len_k. Dropout on the weights still
        # zeroes some of them; dropout on the scores zeroes zeros and changes nothing, so a
        # dropout placed before the mask and the softmax (where a mask that fills after it
        # hides its NaN) shows here.
        flat = torch.zeros_like(q)
        if torch.equal(call(flat, k, v, dropout=drop), call(flat, k, v)):
            raise Violation(
                "with every score equal (zero queries) a dropout module in training mode changes "
                "nothing: dropout acts on the scores before the softmax (a dropped score of 0 "
                "stays 0), not on the attention weights. Apply dropout to the weights, after "
                "the softmax",
                queries="zeros",
                **shape.describe(),
            )
        if style is not None:  # dropout with a causal mask: blocked scores are -inf
            keep = torch.ones(shape.len_q, shape.len_k, dtype=torch.bool).tril()
            given = style.encode(keep, q.dtype)
            undropped, masked = call(q, k, v, mask=given), call(q, k, v, mask=given, dropout=drop)
            finite = [
                isinstance(t, torch.Tensor) and bool(torch.isfinite(t).all())
                for t in (undropped, masked)
            ]
            if finite == [True, False]:  # NaN only once dropout acts
                raise Violation(
                    "with a causal mask and a dropout module in training mode the output has "
                    "NaN: dropout seems to act on the scores before the softmax, where a "
                    "dropped -inf becomes -inf * 0 = NaN. Apply dropout to the attention "
                    "weights, after the softmax",
                    **shape.describe(),
                )
        w.call_method(drop, "eval")
        assert_close(
            call(q, k, v, dropout=drop),
            plain,
            "a dropout module in eval mode must change nothing",
            against="the output with dropout=None",
            **shape.describe(),
        )
        return "dropout passed as a module is applied in training mode and is a no-op in eval mode"

    results = [
        run_property(
            ctx,
            "output_shape",
            draw.attn_shapes(),
            output_shape,
            passed="output has shape (batch, heads, seq, head_dim)",
        ),
        run_property(
            ctx,
            "matches_reference",
            draw.attn_shapes(),
            matches_reference,
            passed="equals the reference attention in float64 at PyTorch's tolerances",
        ),
    ]
    if style is None:
        results.append(
            skip(
                ctx,
                "matches_reference_masked",
                "no causal mask convention could be identified, so masked attention was not compared",
            )
        )
    else:
        results.append(
            run_property(
                ctx,
                "matches_reference_masked",
                draw.attn_shapes(),
                matches_reference_masked,
                passed=f"equals the reference with masks in your convention ({style.describe()})",
            )
        )
    results += [
        run_property(
            ctx,
            "weights_are_distribution",
            draw.attn_shapes(),
            weights_are_distribution,
            passed="each query's weights form a distribution (constant values in, the same constant out)",
        ),
        run_property(
            ctx,
            "large_logits_finite",
            draw.attn_shapes(),
            large_logits_finite,
            passed="large logits stay finite (numerically stable softmax)",
        ),
        run_property(
            ctx,
            "cross_lengths",
            draw.attn_shapes(cross=True),
            cross_lengths,
            passed="works when query and key lengths differ",
            criterion="reusability",
        ),
        run_property(
            ctx,
            "dropout_none_deterministic",
            draw.attn_shapes(),
            dropout_none_deterministic,
            passed="no randomness when dropout=None",
        ),
        run_probe(ctx, "dropout_respected", dropout_respected, passed="dropout is respected"),
    ]
    return results


def lookalike(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> str:
    """Name the usual mistake ``out`` reproduces exactly, as a hint (empty when none does)."""
    head_dim = q.size(-1)
    scores = q @ k.transpose(-2, -1)  # (B, H, Lq, Lk), unscaled
    variants = {
        "no 1/sqrt(head_dim) scaling": scores.softmax(dim=-1) @ v,
        "scaling by 1/head_dim instead of 1/sqrt(head_dim)": (scores / head_dim).softmax(dim=-1)
        @ v,
        "softmax over the queries (dim=-2) instead of the keys": (scores / head_dim**0.5).softmax(
            dim=-2
        )
        @ v,
    }
    correct = reference_attention(q, k, v)
    for mistake, variant in variants.items():
        if not torch.allclose(variant, correct) and torch.allclose(out.to(variant.dtype), variant):
            return f" (your output equals attention with {mistake})"
    return ""


def random_keep(length: int, seed: int) -> torch.Tensor:
    """A random (length, length) keep-mask with the diagonal kept, so no row is fully masked."""
    gen = torch.Generator().manual_seed(seed)
    keep = torch.rand(length, length, generator=gen) < 0.6  # (L, L)
    return keep | torch.eye(length, dtype=torch.bool)


def skip(ctx: SuiteContext, name: str, reason: str, criterion: str = "completion") -> CheckResult:
    return CheckResult(
        name=f"{ctx.task.id}.{name}",
        task=ctx.task.id,
        status="skip",
        message=reason,
        criterion=criterion,
    )
