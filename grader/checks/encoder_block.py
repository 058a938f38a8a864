"""Properties of the candidate's encoder block (post-LayerNorm, as the test asks).

Built as the handout does, ``EncoderBlock(attn, d_model, dim_feedforward, layer_norm_eps,
dropout)`` with the candidate's own multi-head attention as ``attn``. The structure check
takes the attention's output from the candidate's attention module itself and rebuilds the
block from the block's own parts (its two norms with their parameters, its feed-forward
layers, its activation: ReLU as in the handout, or GELU or SiLU, which are a designer's
choice, not a mistake), so a block is judged on its wiring (residuals, then norms), not on
the attention inside it or on our choice of activation. Every parameter is randomised first:
at their initial values a LayerNorm's weights are ones and zeros, which would make two norms
indistinguishable and a norm that is never applied invisible.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from grader.checks import draw
from grader.checks.attention import skip
from grader.checks.base import (
    SuiteContext,
    Violation,
    assert_close,
    assert_no_leak,
    max_abs_diff,
    run_probe,
    run_property,
)
from grader.checks.multi_head_attention import COMPOSITE_TOLERANCE
from grader.result import CheckResult
from grader.sandbox import CandidateError

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "ReLU": F.relu,
    "GELU": F.gelu,
    "GELU (tanh)": lambda x: F.gelu(x, approximate="tanh"),
    "SiLU": F.silu,
}
"""The activations a feed-forward may use, the handout's first."""
RANDOM_STD = 0.5
"""Scale of the random parameters the structure checks give the block: large enough that
each parameter moves the output well past rounding, small enough that nothing saturates."""
LAYER_NORM_EPS = 1e-5
FF_MULTIPLE = 3
"""Feed-forward width = 3 * d_model: different from d_model so the two layers are told apart
by shape."""


def run(ctx: SuiteContext) -> list[CheckResult]:
    w = ctx.worker
    attn_symbol = ctx.symbol_of_kind("multi_head_attention")
    source = ctx.shared.get("mask_source")
    if attn_symbol is None:
        reason = "no multi-head attention class to build the block with"
        return [
            skip(ctx, name, reason)
            for name in (
                "output_shape",
                "matches_reference",
                "deterministic_eval",
                "stochastic_train",
                "causal",
            )
        ]

    def build(
        s: draw.ModelShape, dropout: float = 0.0, mode: str = "eval", randomise: bool = False
    ) -> tuple[object, object, torch.dtype]:
        attn = w.new(attn_symbol, s.dim, s.heads, dropout)
        block = w.new(ctx.symbol, attn, s.dim, FF_MULTIPLE * s.dim, LAYER_NORM_EPS, dropout)
        w.call_method(block, mode)
        dtype = torch.float64
        try:
            w.call_method(block, "double")
        except CandidateError:
            dtype = torch.float32
        if randomise:
            w.run(
                "set_parameters", block, random_parameters(w.run("named_parameters", block), s.seed)
            )
        return block, attn, dtype

    def forward(block: object, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        out = w.call(block, x, mask=mask)
        if not isinstance(out, torch.Tensor):
            raise Violation(f"forward returned {type(out).__name__}, expected a tensor")
        return out

    def output_shape(s: draw.ModelShape) -> None:
        block, _, dtype = build(s)
        out = forward(block, draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=dtype))
        if tuple(out.shape) != (s.batch, s.seq, s.dim):
            raise Violation(
                f"output has shape {tuple(out.shape)}, expected {(s.batch, s.seq, s.dim)}",
                **s.describe(),
            )

    def matches_reference(s: draw.ModelShape) -> None:
        block, attn, dtype = build(s, randomise=True)
        x = draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=dtype)  # (B, L, D)
        out = forward(block, x).double()
        attended = w.call(attn, x, x, x, mask=None).double()  # the block's own attention on x
        params = w.state_dict(block)
        norms = [m.name for m in w.modules(block) if m.type_name == "LayerNorm"]
        ff_in, ff_out = feed_forward(params, s.dim)
        if len(norms) != 2 or ff_in is None or ff_out is None:
            raise Violation(
                f"expected two LayerNorm layers and a feed-forward of two Linear layers "
                f"({s.dim}->{FF_MULTIPLE * s.dim}->{s.dim}); found norms {norms}",
                **s.describe(),
            )
        rtol, atol = COMPOSITE_TOLERANCE[dtype]
        best: tuple[float, torch.Tensor] | None = None
        for (first, second), act in itertools.product(
            itertools.permutations(norms), ACTIVATIONS.values()
        ):
            norm1, norm2 = layer_norm(params, first), layer_norm(params, second)
            hidden = norm1(x.double() + attended)  # residual, then norm (post-norm)
            expected = norm2(hidden + ff_out(act(ff_in(hidden))))
            err = float((out - expected).abs().max())
            if best is None or err < best[0]:
                best = (err, expected)
        assert best is not None
        if not torch.allclose(out, best[1], rtol=rtol, atol=atol):
            diagnosis = diagnose(w, attn, params, norms, x, attended, out, ff_in, ff_out)
            assert_close(
                out,
                best[1],
                f"post-norm encoder block{diagnosis}",
                rtol=rtol,
                atol=atol,
                **s.describe(),
            )

    def every_parameter_matters() -> str:
        shape = draw.ModelShape(batch=2, seq=5, heads=2, head_dim=4, seed=3)
        block, _, dtype = build(shape, randomise=True)
        x = draw.randn(2, 5, 8, seed=4, dtype=dtype)  # (batch, seq, d_model)
        original = w.run("named_parameters", block)
        before = forward(block, x)
        idle = []
        gen = torch.Generator().manual_seed(5)
        for name, value in original.items():
            noise = torch.randn(value.shape, generator=gen, dtype=value.dtype)
            w.run("set_parameters", block, {name: value + noise})
            if torch.equal(forward(block, x), before):
                idle.append(name)
            w.run("set_parameters", block, {name: value})
        if idle:
            raise Violation(
                f"changing {', '.join(idle)} does not change the block's output: "
                f"{'it is' if len(idle) == 1 else 'they are'} never used (a layer built but not "
                "applied, e.g. the first norm applied to both sublayers and the second never)",
                unused=idle,
            )
        return f"each of the block's {len(original)} parameters changes its output"

    def deterministic_eval(s: draw.ModelShape) -> None:
        block, _, dtype = build(s, dropout=0.5, mode="eval")
        x = draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=dtype)
        first, second = forward(block, x), forward(block, x)
        if not torch.equal(first, second):
            raise Violation(
                f"in eval mode two calls on the same input differ by up to {max_abs_diff(first, second):.3g}: "
                "dropout is active in eval (use nn.Dropout modules, or pass training=self.training)",
                max_difference=max_abs_diff(first, second),
                dropout=0.5,
                **s.describe(),
            )

    def stochastic_train(s: draw.ModelShape) -> None:
        block, _, dtype = build(s, dropout=0.5, mode="train")
        x = draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=dtype)
        if torch.equal(forward(block, x), forward(block, x)):
            raise Violation(
                "in train mode with dropout=0.5 two calls give the same output: dropout is not applied",
                **s.describe(),
            )

    def causal(example: tuple[draw.ModelShape, int]) -> None:
        s, t = example
        block, _, dtype = build(s)
        mask = source.mask(w, s.seq, dtype)
        x = draw.randn(s.batch, s.seq, s.dim, seed=s.seed, dtype=dtype)
        x2 = x.clone()
        x2[:, t + 1 :] += draw.randn(s.batch, s.seq - t - 1, s.dim, seed=s.seed + 1, dtype=dtype)
        moved = (
            (forward(block, x, mask) - forward(block, x2, mask))[:, : t + 1].abs().amax(dim=(0, 2))
        )
        assert_no_leak(
            moved,
            t,
            dtype,
            "with your causal mask, the block's output",
            " (does the block pass its mask to the attention?)",
            **s.describe(),
        )

    # LayerNorm over one feature is identically 0 and over two it is +-1 whatever the input,
    # so the block is only observable from d_model = 4 (two heads of two).
    block_shapes = {"heads": (2, 4), "min_head_dim": 2}
    shapes = draw.model_shapes(max_seq=8, **block_shapes)
    results = [
        run_property(
            ctx,
            "output_shape",
            shapes,
            output_shape,
            passed="output has shape (batch, seq, d_model)",
        ),
        run_property(
            ctx,
            "matches_reference",
            shapes,
            matches_reference,
            passed="equals the post-norm reference block (residual, then LayerNorm) rebuilt from your block's own randomised weights and activation, in eval mode",
        ),
        run_probe(
            ctx,
            "every_parameter_matters",
            every_parameter_matters,
            passed="every parameter of the block changes its output",
        ),
        run_property(
            ctx,
            "deterministic_eval",
            shapes,
            deterministic_eval,
            passed="deterministic in eval mode",
        ),
        run_property(
            ctx,
            "stochastic_train",
            draw.model_shapes(min_seq=3, **block_shapes),
            stochastic_train,
            passed="dropout is active in train mode",
            examples=3,
        ),
    ]
    if source is None or source.style is None:
        results.append(skip(ctx, "causal", "no causal mask convention was identified"))
    else:
        cut_shapes = draw.with_cut(draw.model_shapes(min_seq=2, max_seq=8, **block_shapes))
        results.append(
            run_property(
                ctx,
                "causal",
                cut_shapes,
                causal,
                passed="with your causal mask no position sees a later one",
            )
        )
    return results


Layer = Callable[[torch.Tensor], torch.Tensor]
"""A layer rebuilt in the grader from the candidate's weights."""


def random_parameters(params: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """A random value for every parameter (a LayerNorm's weight around 1, everything else
    around 0), of its shape and dtype."""
    gen = torch.Generator().manual_seed(seed)
    values = {}
    for name, value in params.items():
        draw_ = torch.randn(value.shape, generator=gen, dtype=torch.float64) * RANDOM_STD
        values[name] = (draw_ + (1.0 if value.dim() == 1 and bool((value == 1).all()) else 0.0)).to(
            value.dtype
        )
    return values


def feed_forward(params: dict[str, torch.Tensor], dim: int) -> tuple[Layer | None, Layer | None]:
    """The (dim -> ff) and (ff -> dim) layers, found by shape."""
    width = FF_MULTIPLE * dim
    layers = {}
    for key, weight in params.items():
        if (
            key.endswith("weight")
            and weight.dim() == 2
            and tuple(weight.shape) in ((width, dim), (dim, width))
        ):
            bias = params.get(key[: -len("weight")] + "bias")
            layers[tuple(weight.shape)] = _linear(
                weight.double(), None if bias is None else bias.double()
            )
    return layers.get((width, dim)), layers.get((dim, width))


def _linear(weight: torch.Tensor, bias: torch.Tensor | None) -> Layer:
    return lambda x: F.linear(x, weight, bias)


def layer_norm(params: dict[str, torch.Tensor], name: str) -> Layer:
    weight, bias = params[f"{name}.weight"].double(), params[f"{name}.bias"].double()
    return lambda x: F.layer_norm(x, weight.shape, weight, bias, LAYER_NORM_EPS)


def diagnose(
    w: Any,
    attn: Any,
    params: dict[str, torch.Tensor],
    norms: list[str],
    x: torch.Tensor,
    attended: torch.Tensor,
    out: torch.Tensor,
    ff_in: Layer,
    ff_out: Layer,
) -> str:
    """Name the structure the block implements instead of post-norm, when it is a usual one.

    ``attended`` is the block's attention on ``x`` (float64); each variant is rebuilt with the
    block's own weights, in both orders of its two norms."""

    def ff(h: torch.Tensor) -> torch.Tensor:
        return ff_out(F.relu(ff_in(h)))

    def one_norm_twice(norm1: Layer, norm2: Layer) -> torch.Tensor:
        hidden = norm1(x.double() + attended)
        return norm1(hidden + ff(hidden))

    def activation_after_second(norm1: Layer, norm2: Layer) -> torch.Tensor:
        hidden = norm1(x.double() + attended)
        return norm2(hidden + F.relu(ff_out(ff_in(hidden))))

    def pre_norm(norm1: Layer, norm2: Layer) -> torch.Tensor:
        normed = norm1(x.double()).to(x.dtype)  # the block's own dtype, for the worker
        hidden = x.double() + w.call(attn, normed, normed, normed, mask=None).double()
        return hidden + ff(norm2(hidden))

    def no_attention_residual(norm1: Layer, norm2: Layer) -> torch.Tensor:
        hidden = norm1(attended)
        return norm2(hidden + ff(hidden))

    def no_feed_forward_residual(norm1: Layer, norm2: Layer) -> torch.Tensor:
        return norm2(ff(norm1(x.double() + attended)))

    def norm_then_add(norm1: Layer, norm2: Layer) -> torch.Tensor:
        hidden = norm1(x.double()) + attended
        return norm2(hidden) + ff(hidden)

    def linear_feed_forward(norm1: Layer, norm2: Layer) -> torch.Tensor:
        hidden = norm1(x.double() + attended)
        return norm2(hidden + ff_out(ff_in(hidden)))

    def feed_forward_on_input(norm1: Layer, norm2: Layer) -> torch.Tensor:
        hidden = norm1(x.double() + attended)
        return norm2(hidden + ff(x.double()))

    variants = {
        "your block is PRE-norm, x + attn(norm(x)); the test asks for post-norm, norm(x + attn(x))": pre_norm,
        "the residual is added after the norm, norm(x) + attn(x), instead of norm(x + attn(x))": norm_then_add,
        "the feed-forward has no activation between its two linear layers (ReLU in the handout)": linear_feed_forward,
        "the activation comes after the second linear layer, not between the two": activation_after_second,
        "the same LayerNorm is applied after both sublayers: the second norm is never used": one_norm_twice,
        "the feed-forward reads the block's input x instead of the attention sublayer's output": feed_forward_on_input,
        "the attention sublayer has no residual connection: norm(attn(x)) instead of norm(x + attn(x))": no_attention_residual,
        "the feed-forward sublayer has no residual connection: norm(ff(h)) instead of norm(h + ff(h))": no_feed_forward_residual,
    }
    for first, second in itertools.permutations(norms):
        norm1, norm2 = layer_norm(params, first), layer_norm(params, second)
        for mistake, variant in variants.items():
            if torch.allclose(out, variant(norm1, norm2), atol=1e-5):
                return f" ({mistake})"
    return ""
