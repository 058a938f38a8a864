"""Properties of the candidate's multi-head self-attention module.

Constructed as the handout does, ``MultiHeadSelfAttention(dim, n_heads, dropout)``, called as
``forward(query, key, value, mask)`` on batch-first (batch, seq, dim) inputs, in eval mode.
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st

from grader.checks import draw
from grader.checks.attention import skip
from grader.checks.base import (
    NotApplicable,
    SuiteContext,
    Violation,
    assert_close,
    assert_no_leak,
    raised,
    run_probe,
    run_property,
)
from grader.checks.projections import (
    Projections,
    closest,
    identify,
    linears,
    multi_head,
    wrong_scaling,
)
from grader.result import CheckResult
from grader.sandbox import CandidateError

COMPOSITE_TOLERANCE = {torch.float64: (1e-6, 1e-7), torch.float32: (1e-4, 1e-5)}
"""(rtol, atol) for a module of several layers: rounding accumulates over four matmuls and a
softmax, so a little above a single op's tolerance."""


class Built:
    """A candidate module built in the worker, in eval mode, with the dtype it accepts."""

    def __init__(self, ctx: SuiteContext, *args: Any, **kwargs: Any) -> None:
        self.w = ctx.worker
        self.handle = self.w.new(ctx.symbol, *args, **kwargs)
        self.w.call_method(self.handle, "eval")
        self.dtype = torch.float64
        try:
            self.w.call_method(self.handle, "double")
        except CandidateError:
            self.dtype = torch.float32

    def __call__(self, *inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        out = self.w.call(self.handle, *(x.to(self.dtype) for x in inputs), mask=mask)
        if not isinstance(out, torch.Tensor):
            raise Violation(f"forward returned {type(out).__name__}, expected a tensor")
        return out

    def state(self) -> dict[str, torch.Tensor]:
        return {k: v.double() for k, v in self.w.state_dict(self.handle).items()}


def unused_layers(m: Built, state: dict[str, torch.Tensor], dim: int) -> list[str]:
    """The Linear layers whose weights do not reach the output: each gets random weights in
    turn (the module's own state is put back after), and a layer that moves nothing is unused.
    Random, not shifted by a constant: a constant shift can cancel inside a softmax. The input
    has several positions: with one, queries and keys cannot matter."""
    x = draw.randn(2, 5, dim, seed=0, dtype=m.dtype)  # (batch, seq, dim)
    before = m(x, x, x)
    idle = []
    original = m.w.state_dict(m.handle)
    try:
        for layer in linears(state):
            key = f"{layer.name}.weight" if f"{layer.name}.weight" in original else layer.name
            if key not in original:
                continue
            shifted = dict(original)
            noise = torch.randn(original[key].shape, generator=torch.Generator().manual_seed(0))
            shifted[key] = original[key] + noise.to(original[key].dtype)
            m.w.load_state_dict(m.handle, shifted)
            if torch.equal(m(x, x, x), before):
                idle.append(layer.name)
    finally:
        m.w.load_state_dict(m.handle, original)
    return idle


def run(ctx: SuiteContext) -> list[CheckResult]:
    w = ctx.worker
    source = ctx.shared.get("mask_source")
    found: dict[str, Projections | None] = {}

    def build(shape: draw.ModelShape, dropout: float | None = 0.0) -> Built:
        return Built(ctx, shape.dim, shape.heads, dropout)

    def self_attend(m: Built, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return m(x, x, x, mask=mask)

    def output_shape(s: draw.ModelShape) -> None:
        m = build(s)
        out = self_attend(m, draw.randn(s.batch, s.seq, s.dim, seed=s.seed))
        expected = (s.batch, s.seq, s.dim)
        if tuple(out.shape) != expected:
            raise Violation(
                f"output has shape {tuple(out.shape)}, expected {expected} (batch, seq, dim)",
                **s.describe(),
            )

    def matches_reference(s: draw.ModelShape) -> None:
        m = build(s)
        x = draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=m.dtype)  # (B, L, D)
        out = self_attend(m, x)
        rtol, atol = COMPOSITE_TOLERANCE[m.dtype]
        projections = identify(
            m.state(), s.dim, s.heads, x.double(), out.double(), atol=max(atol, 1e-5) * 10
        )
        if projections is None:
            state = m.state()
            nearest = closest(state, s.dim, s.heads, x.double(), out.double())
            if nearest is None:
                shapes = {lin.name: tuple(lin.weight.shape) for lin in linears(state)}
                raise Violation(
                    f"your module's Linear layers {shapes} are not query, key and value projections "
                    f"(three ({s.dim}, {s.dim}) layers, fused ones of {2 * s.dim} or {3 * s.dim} rows, "
                    f"or one ({s.dim // s.heads}, {s.dim}) layer per head) plus a ({s.dim}, {s.dim}) "
                    "output, so the reference cannot be rebuilt from them",
                    layers=shapes,
                    **s.describe(),
                )
            idle = unused_layers(m, state, s.dim)
            if idle:
                raise Violation(
                    f"your layer(s) {', '.join(idle)} never affect the output: changing their weights "
                    "changes nothing, so a projection is computed but not used (is another layer used "
                    "in its place, or its result dropped?)",
                    unused=idle,
                    **s.describe(),
                )
            scaling = wrong_scaling(
                state, s.dim, s.heads, x.double(), out.double(), atol=max(atol, 1e-5) * 10
            )
            if scaling is not None:
                raise Violation(
                    f"your module scales the attention scores by {scaling}: it equals multi-head "
                    "attention of your own projections with that scaling. Each head's scores "
                    "q.k must be divided by sqrt(head_dim), head_dim = dim // n_heads",
                    scaling=scaling,
                    **s.describe(),
                )
            raise Violation(
                "no assignment of your projection layers to query/key/value/output reproduces multi-head "
                f"attention; the nearest ({nearest[0].describe()}) differs by up to {nearest[1]:.3g} (if your "
                "attention function fails its own checks, fix it first: this module uses it)",
                max_abs_diff=nearest[1],
                **s.describe(),
            )
        found["projections"] = projections
        expected = multi_head(x.double(), x.double(), x.double(), projections, s.heads)
        assert_close(
            out.double(), expected, "multi-head attention", rtol=rtol, atol=atol, **s.describe()
        )

    def permutation_equivariant(s: draw.ModelShape) -> None:
        m = build(s)
        x = draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=m.dtype)
        perm = torch.randperm(s.seq, generator=torch.Generator().manual_seed(s.seed))
        rtol, atol = COMPOSITE_TOLERANCE[m.dtype]
        assert_close(
            self_attend(m, x[:, perm]).double(),
            self_attend(m, x)[:, perm].double(),
            "without a mask, permuting the positions of the input must permute the output the same way",
            rtol=rtol,
            atol=atol,
            against="the permuted output",
            permutation=perm.tolist(),
            **s.describe(),
        )

    def batch_independent(s: draw.ModelShape) -> None:
        m = build(s)
        x = draw.randn(s.batch + 1, s.seq, s.dim, seed=s.seed, dtype=m.dtype)
        rtol, atol = COMPOSITE_TOLERANCE[m.dtype]
        whole = self_attend(m, x)
        alone = self_attend(m, x[-1:])
        assert_close(
            whole[-1:].double(),
            alone.double(),
            "the output for one sequence must not depend on the other sequences of the batch",
            rtol=rtol,
            atol=atol,
            against="the same sequence run alone",
            **s.describe(),
        )

    def causal(example: tuple[draw.ModelShape, int]) -> None:
        s, t = example
        m = build(s)
        mask = source.mask(w, s.seq, m.dtype)
        x = draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=m.dtype)
        x2 = x.clone()
        x2[:, t + 1 :] += draw.randn(s.batch, s.seq - t - 1, s.dim, seed=s.seed + 1, dtype=m.dtype)
        moved = (
            (self_attend(m, x, mask) - self_attend(m, x2, mask))[:, : t + 1].abs().amax(dim=(0, 2))
        )  # (t+1,)
        assert_no_leak(
            moved,
            t,
            m.dtype,
            "with your causal mask, the output",
            " (does the mask reach every head's attention, and does softmax run over the keys?)",
            **s.describe(),
        )

    def every_parameter_trains() -> str:
        m = build(draw.ModelShape(batch=2, seq=5, heads=2, head_dim=4, seed=0))
        x = draw.randn(2, 5, 8, seed=0, dtype=m.dtype)  # (batch, seq, dim)
        try:
            grads = w.run("parameter_grads", m.handle, x, x, x)
        except CandidateError as exc:  # the forward itself fails: other checks say why
            raise NotApplicable(
                f"your module raised on a (2, 5, 8) input, so its gradients could not be "
                f"checked: {exc.summary()}"
            ) from exc
        frozen = [name for name, g in grads.items() if g is None or not bool(g.abs().sum() > 0)]
        if frozen:
            raise Violation(
                f"no gradient reaches {', '.join(frozen)}: those weights would never train (a "
                ".detach(), a torch.no_grad() or a .data inside forward cuts them off)",
                frozen=frozen,
            )
        return f"every parameter ({len(grads)}) gets a gradient"

    def default_construction() -> str:
        defaults = defaults_after(ctx.shared.get("symbols", {}).get(ctx.symbol), given=2)
        built = f"{ctx.symbol}(8, 2)" + (
            f", with your default {', '.join(defaults)}," if defaults else ""
        )
        try:
            handle = w.new(ctx.symbol, 8, 2)
            w.call_method(handle, "eval")
            out = w.call(handle, *(draw.randn(1, 3, 8, seed=1, dtype=torch.float32),) * 3)
        except CandidateError as exc:
            hint = (
                " A None default must be handled (e.g. build no nn.Dropout when dropout is None)."
                if any(d.endswith("=None") for d in defaults)
                else ""
            )
            raise Violation(
                f"{built} raised {raised(exc)}: a default of your signature does not work.{hint}",
                dim=8,
                n_heads=2,
                defaults=defaults,
                error=raised(exc),
                traceback=exc.traceback,
            ) from None
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, 3, 8):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise Violation(
                f"{built} returns {got} on a (1, 3, 8) input, not (batch, seq, dim)",
                dim=8,
                n_heads=2,
                defaults=defaults,
            )
        return f"{built} works"

    def heads_range(heads: int) -> None:
        dim = 12
        m = Built(ctx, dim, heads, 0.0)
        x = draw.randn(2, 5, dim, seed=heads, dtype=m.dtype)
        out = self_attend(m, x)
        projections = found.get("projections")
        matched = identify(m.state(), dim, heads, x.double(), out.double(), atol=1e-4)
        if matched is None:
            hint = (
                f" (the layers matched as {projections.describe()} with another head count)"
                if projections
                else ""
            )
            raise Violation(
                f"with {heads} head(s) of width {dim // heads} the output is not multi-head attention{hint}",
                n_heads=heads,
                dim=dim,
            )

    def rejects_indivisible() -> str:
        try:
            handle = w.new(ctx.symbol, 10, 3, 0.0)  # dropout given: only the width is wrong
        except CandidateError as exc:
            return f"dim=10 with n_heads=3 is refused at construction: {exc.type}: {exc.message}"[
                :200
            ]
        x = draw.randn(1, 4, 10, seed=2, dtype=torch.float32)
        try:
            w.call(handle, x, x, x)
        except CandidateError as exc:
            raise Violation(
                f"dim=10 with n_heads=3 is accepted at construction and only fails later, in forward, "
                f"with {exc.type}: {exc.message[:120]}; check divisibility in __init__ with a clear message",
                dim=10,
                n_heads=3,
            ) from None
        raise Violation(
            "dim=10 with n_heads=3 was accepted without an error: 10 is not divisible by 3, "
            "so the heads cannot split the width evenly",
            dim=10,
            n_heads=3,
        )

    results = [
        run_property(
            ctx,
            "output_shape",
            draw.model_shapes(),
            output_shape,
            passed="output has shape (batch, seq, dim)",
        ),
        run_property(
            ctx,
            "matches_reference",
            draw.model_shapes(),
            matches_reference,
            passed="equals reference multi-head attention built from your own projection weights",
        ),
        run_property(
            ctx,
            "permutation_equivariant",
            draw.model_shapes(min_seq=2),
            permutation_equivariant,
            passed="permuting the input positions permutes the output (no mask)",
        ),
        run_property(
            ctx,
            "batch_independent",
            draw.model_shapes(),
            batch_independent,
            passed="each sequence's output is independent of the rest of the batch",
        ),
    ]
    if source is None or source.style is None:
        results.append(skip(ctx, "causal", "no causal mask convention was identified"))
    else:
        results.append(
            run_property(
                ctx,
                "causal",
                draw.with_cut(draw.model_shapes(min_seq=2)),
                causal,
                passed="with your causal mask no position sees a later one",
            )
        )
    results += [
        run_probe(
            ctx,
            "default_construction",
            default_construction,
            passed="construction with the signature's defaults works",
            criterion="reusability",
        ),
        run_property(
            ctx,
            "heads_range",
            st.sampled_from([1, 2, 3, 4, 6, 12]),
            heads_range,
            passed="works with one head, many heads and one-wide heads",
            criterion="reusability",
            examples=6,
        ),
        run_probe(
            ctx,
            "every_parameter_trains",
            every_parameter_trains,
            passed="every parameter gets a gradient",
        ),
        run_probe(
            ctx,
            "rejects_indivisible",
            rejects_indivisible,
            passed="a width not divisible by the heads is refused clearly",
        ),
    ]
    return results


def defaults_after(info: Any, given: int) -> list[str]:
    """``name=default`` of each defaulted parameter a call with ``given`` positional
    arguments leaves to the signature (from the worker's description of the symbol)."""
    params = [
        p
        for p in getattr(info, "params", ())
        if p.name != "self" and p.kind not in ("var_positional", "var_keyword")
    ]
    return [f"{p.name}={p.default_repr}" for p in params[given:] if p.has_default]
