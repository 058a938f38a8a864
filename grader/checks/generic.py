"""Properties of any function or module an interviewer's ``reference.py`` defines, configured in
``assignment.toml`` alone (the ``function`` and ``module`` kinds of `grader.kinds.generic`).

Inputs are declared as tensors with named dimensions (``shape = ["batch", "seq", "dim"]``),
whose sizes Hypothesis draws from declared ranges; the same inputs go to the candidate's code
in their worker and to the reference in the trusted worker, and the outputs are compared here.
A module's parameters are randomised first and copied onto the reference by shape (every
assignment of same-shaped parameters is tried against one output, the way the multi-head
attention checks find the projections), so that weights at their initial values (a
LayerNorm's ones and zeros) cannot hide a swapped or unused parameter.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from hypothesis import strategies as st

from grader.checks import draw
from grader.checks.base import (
    NotApplicable,
    SuiteContext,
    Violation,
    assert_close,
    run_probe,
    run_property,
)
from grader.result import CheckResult
from grader.sandbox import CandidateError

DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "int64": torch.int64,
    "bool": torch.bool,
}
MAX_MAPPINGS = 720
"""Most assignments of same-shaped parameters tried when copying a module's weights onto the
reference (6! for six parameters of one shape); beyond it, the order of their names is used."""


@dataclass(frozen=True)
class TensorSpec:
    """One tensor argument."""

    shape: tuple[str | int, ...]
    """Its dimensions: names drawn from ``dims`` (the same name, the same size) or fixed sizes."""
    dtype: Literal["float64", "float32", "int64", "bool"] = "float64"
    """float64 by default, so the comparison can be strict; integers for indices or tokens."""
    low: float = -1.0
    """Smallest value drawn (integers: inclusive)."""
    high: float = 1.0
    """Largest value drawn (integers: inclusive)."""
    scales: tuple[float, ...] = (1.0,)
    """Magnitudes one example may multiply floating values by (one drawn per example): small
    and large inputs catch what unit-sized ones hide (a missing epsilon, an overflow)."""


@dataclass(frozen=True)
class CallOptions:
    """How the candidate's code is called and compared: shared by the function and module kinds."""

    reference: str
    """The function or class of ``reference.py`` to compare against."""
    inputs: dict[str, TensorSpec]
    """Positional tensor arguments, in order, by the handout's parameter names."""
    dims: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Range (inclusive) of each named dimension."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Fixed keyword arguments passed to both sides (``eps = 1e-5``)."""
    output: tuple[str | int, ...] | None = None
    """The output's shape, in the same dimension names; None: the reference's output shape."""
    rtol: float | None = None
    """Relative tolerance; None: PyTorch's default for the output's dtype."""
    atol: float | None = None
    """Absolute tolerance; None: PyTorch's default for the output's dtype."""
    equivariant: tuple[str, ...] = ()
    """Named dimensions along which permuting every input permutes the output alike."""
    batch_axis: str | None = None
    """A named dimension whose slices must be computed independently (a row's output must not
    depend on the other rows)."""
    large_inputs: float | None = None
    """A magnitude at which floating inputs must still give a finite output."""


@dataclass(frozen=True)
class Example:
    """One drawn call: the size of every named dimension, the magnitude, the seed."""

    sizes: dict[str, int]
    scale: float
    seed: int

    def describe(self) -> dict[str, Any]:
        return {"sizes": dict(self.sizes), "scale": self.scale, "seed": self.seed}


def examples(opts: CallOptions) -> st.SearchStrategy[Example]:
    """Sizes from the declared ranges, a magnitude from each input's ``scales``, a seed."""
    names = list(
        dict.fromkeys(d for s in opts.inputs.values() for d in s.shape if isinstance(d, str))
    )
    scales = sorted({scale for s in opts.inputs.values() for scale in s.scales})

    @st.composite
    def build(draw_: st.DrawFn) -> Example:
        sizes = {n: draw_(st.integers(*opts.dims.get(n, (1, 4)))) for n in names}
        return Example(sizes, draw_(st.sampled_from(scales or [1.0])), draw_(draw.seeds()))

    return build()


def shape_of(spec: Sequence[str | int], sizes: dict[str, int]) -> tuple[int, ...]:
    return tuple(sizes[d] if isinstance(d, str) else d for d in spec)


def make_inputs(
    opts: CallOptions, example: Example, scale: float | None = None
) -> list[torch.Tensor]:
    """The tensors of ``example``, drawn from a generator seeded by it (reproducible from the
    counterexample alone)."""
    gen = torch.Generator().manual_seed(example.seed)
    tensors = []
    for spec in opts.inputs.values():
        shape, dtype = shape_of(spec.shape, example.sizes), DTYPES[spec.dtype]
        if dtype.is_floating_point:
            magnitude = (
                scale
                if scale is not None
                else (example.scale if example.scale in spec.scales else 1.0)
            )
            values = (
                torch.rand(shape, generator=gen, dtype=torch.float64) * (spec.high - spec.low)
                + spec.low
            )
            tensors.append((values * magnitude).to(dtype))
        elif dtype == torch.bool:
            tensors.append(torch.rand(shape, generator=gen) < 0.5)
        else:
            tensors.append(torch.randint(int(spec.low), int(spec.high) + 1, shape, generator=gen))
    return tensors


class Reference:
    """The interviewer's function or module, in the trusted worker."""

    def __init__(self, ctx: SuiteContext, target: Any) -> None:
        self.ctx, self.target = ctx, target

    def __call__(self, *inputs: torch.Tensor, **kwargs: Any) -> Any:
        try:
            return self.ctx.reference.get().call(self.target, *inputs, **kwargs)
        except CandidateError as exc:  # the reference's code, not the candidate's
            raise NotApplicable(
                f"the assignment's reference raised {exc.summary()} on this input: fix reference.py"
            ) from None


def compared(
    ctx: SuiteContext,
    opts: CallOptions,
    call: Callable[..., Any],
    reference: Callable[..., Any],
    note: Callable[[], str] = lambda: "",
) -> list[CheckResult]:
    """The properties a call has against its reference, as the options configure them
    (``note`` adds to a failed comparison's message, e.g. how the weights were copied)."""

    def outputs(
        example: Example, scale: float | None = None
    ) -> tuple[list[torch.Tensor], Any, Any]:
        inputs = make_inputs(opts, example, scale)
        return inputs, call(*inputs, **opts.kwargs), reference(*inputs, **opts.kwargs)

    def tensor(out: Any, what: str) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            raise Violation(f"{what} returned {type(out).__name__}, expected a tensor")
        return out

    def expected_shape(example: Example, ref: Any) -> tuple[int, ...]:
        if opts.output is not None:
            return shape_of(opts.output, example.sizes)
        return tuple(ref.shape) if isinstance(ref, torch.Tensor) else ()

    def output_shape(example: Example) -> None:
        if opts.output is not None:  # declared: the reference is not needed to judge it
            out = call(*make_inputs(opts, example), **opts.kwargs)
            got, wanted = (
                tuple(tensor(out, "your code").shape),
                shape_of(opts.output, example.sizes),
            )
        else:
            _, out, ref = outputs(example)
            got, wanted = tuple(tensor(out, "your code").shape), expected_shape(example, ref)
        if got != wanted:
            raise Violation(f"the output has shape {got}, expected {wanted}", **example.describe())

    def matches_reference(example: Example) -> None:
        _, out, ref = outputs(example)
        ref = tensor(ref, "the reference")
        what = f"the output{note()}"
        assert_close(
            tensor(out, "your code"), ref, what, opts.rtol, opts.atol, **example.describe()
        )

    def equivariant(example_axis: tuple[Example, str]) -> None:
        example, axis = example_axis
        inputs = make_inputs(opts, example)
        size = example.sizes[axis]
        order = torch.randperm(size, generator=torch.Generator().manual_seed(example.seed))
        permuted = [
            permute(x, spec.shape, axis, order)
            for x, spec in zip(inputs, opts.inputs.values(), strict=True)
        ]
        out = tensor(call(*inputs, **opts.kwargs), "your code")
        moved = tensor(call(*permuted, **opts.kwargs), "your code")
        assert opts.output is not None
        assert_close(
            moved,
            permute(out, opts.output, axis, order),
            f"with the inputs permuted along {axis!r}, the output permuted alike",
            opts.rtol,
            opts.atol,
            against="the permuted output",
            permutation=order.tolist(),
            **example.describe(),
        )

    def batch_independent(example: Example) -> None:
        axis = opts.batch_axis
        assert axis is not None and opts.output is not None
        inputs = make_inputs(opts, example)
        whole = tensor(call(*inputs, **opts.kwargs), "your code")
        last = example.sizes[axis] - 1
        alone = [
            take(x, spec.shape, axis, last)
            for x, spec in zip(inputs, opts.inputs.values(), strict=True)
        ]
        assert_close(
            tensor(call(*alone, **opts.kwargs), "your code"),
            take(whole, opts.output, axis, last),
            f"the last slice along {axis!r} computed alone",
            opts.rtol,
            opts.atol,
            against="the same slice computed with the others",
            **example.describe(),
        )

    def large_inputs(example: Example) -> None:
        assert opts.large_inputs is not None
        inputs = make_inputs(opts, example, scale=opts.large_inputs)
        out = tensor(call(*inputs, **opts.kwargs), "your code")
        if out.is_floating_point() and not bool(torch.isfinite(out).all()):
            raise Violation(
                f"inputs of magnitude {opts.large_inputs:g} give NaN or inf in the output",
                **example.describe(),
            )

    cases = examples(opts)
    results = [
        run_property(
            ctx, "output_shape", cases, output_shape, passed="the output has the expected shape"
        ),
        run_property(
            ctx,
            "matches_reference",
            cases,
            matches_reference,
            passed="equals the reference on every drawn input",
        ),
    ]
    if opts.equivariant and opts.output is not None:
        axes = st.tuples(cases, st.sampled_from(opts.equivariant))
        results.append(
            run_property(
                ctx,
                "equivariant",
                axes,
                equivariant,
                passed=f"permuting {', '.join(opts.equivariant)} permutes the output alike",
            )
        )
    if opts.batch_axis and opts.output is not None:
        results.append(
            run_property(
                ctx,
                "batch_independent",
                cases,
                batch_independent,
                passed=f"each slice along {opts.batch_axis!r} is computed independently",
            )
        )
    if opts.large_inputs is not None:
        results.append(
            run_property(
                ctx,
                "large_inputs_finite",
                cases,
                large_inputs,
                passed=f"inputs of magnitude {opts.large_inputs:g} give a finite output",
            )
        )
    return results


def permute(
    x: torch.Tensor, spec: Sequence[str | int], axis: str, order: torch.Tensor
) -> torch.Tensor:
    """``x`` with every dimension named ``axis`` reordered by ``order``."""
    for dim, name in enumerate(spec):
        if name == axis:
            x = x.index_select(dim, order.to(x.device))
    return x


def take(x: torch.Tensor, spec: Sequence[str | int], axis: str, index: int) -> torch.Tensor:
    """``x`` reduced to slice ``index`` (kept as a dimension of size 1) along ``axis``."""
    for dim, name in enumerate(spec):
        if name == axis:
            x = x.narrow(dim, index, 1)
    return x


# --- modules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleOptions(CallOptions):
    init: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments, by the handout's parameter names, passed in this order."""


class Modules:
    """The candidate's module and the reference's, built with the same arguments, in eval mode,
    with the candidate's parameters randomised and copied onto the reference."""

    def __init__(self, ctx: SuiteContext, opts: ModuleOptions) -> None:
        self.ctx, self.opts = ctx, opts
        self.w = ctx.worker
        args = list(opts.init.values())
        self.mine = self.w.new(ctx.symbol, *args)
        self.ref = ctx.reference.get().new(opts.reference, *args)
        wants_double = any(s.dtype == "float64" for s in opts.inputs.values())
        for worker, handle in ((self.w, self.mine), (ctx.reference.get(), self.ref)):
            worker.call_method(handle, "eval")
            if wants_double:
                worker.call_method(handle, "double")
        self.mapping: dict[str, str] | None = None
        self.why_not: str = ""
        self.note: str = ""

    def theirs(self, *inputs: torch.Tensor, **kwargs: Any) -> Any:
        return self.w.call(self.mine, *inputs, **kwargs)

    def reference(self, *inputs: torch.Tensor, **kwargs: Any) -> Any:
        try:
            return self.ctx.reference.get().call(self.ref, *inputs, **kwargs)
        except CandidateError as exc:
            raise NotApplicable(
                f"the assignment's reference raised {exc.summary()}: fix reference.py"
            ) from None

    def parameters(self, worker: Any, handle: Any) -> dict[str, torch.Tensor]:
        return worker.run("named_parameters", handle)

    def randomise_and_map(self, probe: list[torch.Tensor]) -> None:
        """Give the candidate's parameters random values and find the reference parameter each
        one plays: every assignment of same-shaped parameters is tried on ``probe``."""
        mine = self.parameters(self.w, self.mine)
        reference_worker = self.ctx.reference.get()
        theirs = self.parameters(reference_worker, self.ref)
        shapes = sorted(tuple(t.shape) for t in mine.values())
        if shapes != sorted(tuple(t.shape) for t in theirs.values()):
            self.why_not = (
                f"your module's parameters have shapes {describe(mine)}, the reference's "
                f"{describe(theirs)}: they cannot be mapped onto each other"
            )
            return
        gen = torch.Generator().manual_seed(self.ctx.config.seed)
        values = {
            n: torch.randn(t.shape, generator=gen, dtype=torch.float64) * 0.5 + 0.1
            for n, t in mine.items()
        }
        self.w.run("set_parameters", self.mine, values)
        out = self.theirs(*probe, **self.opts.kwargs)
        if not isinstance(out, torch.Tensor):
            self.why_not = f"forward returned {type(out).__name__}, expected a tensor"
            return
        tries = mappings(mine, theirs)
        for mapping in tries:
            reference_worker.run(
                "set_parameters", self.ref, {mapping[n]: v for n, v in values.items()}
            )
            ref = self.reference(*probe, **self.opts.kwargs)
            if (
                isinstance(ref, torch.Tensor)
                and ref.shape == out.shape
                and torch.allclose(out.double(), ref.double(), rtol=1e-4, atol=1e-5)
            ):
                self.mapping = mapping
                return
        # None matches: compare under the first (in the order of the names), so the check
        # reports by how much and where the outputs differ.
        self.mapping = tries[0]
        first = {tries[0][n]: v for n, v in values.items()}
        reference_worker.run("set_parameters", self.ref, first)
        if len(tries) > 1:
            self.note = (
                f" (none of the {len(tries)} ways to copy your parameters onto the reference's "
                "by shape gives its output; compared with them in the order of their names)"
            )


def mappings(
    mine: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]
) -> list[dict[str, str]]:
    """Every assignment of the candidate's parameters to the reference's of the same shape (the
    names' order first), at most `MAX_MAPPINGS`."""
    groups: dict[tuple[int, ...], tuple[list[str], list[str]]] = {}
    for name, t in mine.items():
        groups.setdefault(tuple(t.shape), ([], []))[0].append(name)
    for name, t in theirs.items():
        groups[tuple(t.shape)][1].append(name)
    choices = [
        [dict(zip(ours, perm, strict=True)) for perm in itertools.permutations(refs)]
        for ours, refs in groups.values()
    ]
    found = []
    for combo in itertools.islice(itertools.product(*choices), MAX_MAPPINGS):
        merged: dict[str, str] = {}
        for part in combo:
            merged |= part
        found.append(merged)
    return found


def describe(params: dict[str, torch.Tensor]) -> str:
    return ", ".join(f"{n} {tuple(t.shape)}" for n, t in params.items()) or "none"


def module_checks(ctx: SuiteContext, opts: ModuleOptions) -> list[CheckResult]:
    """The module's properties: those of `compared`, plus every parameter mattering."""
    try:
        modules = Modules(ctx, opts)
    except CandidateError as exc:
        message = f"building your {ctx.symbol}({', '.join(map(repr, opts.init.values()))}) raised {exc.summary()}"
        return [
            CheckResult(f"{ctx.task.id}.{name}", ctx.task.id, "error", message)
            for name in ("output_shape", "matches_reference")
        ]
    probe_example = Example({n: hi for n, (_, hi) in opts.dims.items()}, 1.0, 0)
    probe = make_inputs(opts, fill(opts, probe_example))
    modules.randomise_and_map(probe)

    def reference(*inputs: torch.Tensor, **kwargs: Any) -> Any:
        if modules.mapping is None:
            raise Violation(
                modules.why_not or "your module could not be compared with the reference"
            )
        return modules.reference(*inputs, **kwargs)

    results = compared(ctx, opts, modules.theirs, reference, lambda: modules.note)

    def every_parameter_matters() -> str:
        original = modules.parameters(modules.w, modules.mine)
        before = modules.theirs(*probe, **opts.kwargs)
        idle = []
        gen = torch.Generator().manual_seed(1)
        try:
            for name, value in original.items():
                noise = torch.randn(value.shape, generator=gen, dtype=value.dtype)
                modules.w.run("set_parameters", modules.mine, {name: value + noise})
                after = modules.theirs(*probe, **opts.kwargs)
                if isinstance(after, torch.Tensor) and torch.equal(after, before):
                    idle.append(name)
                modules.w.run("set_parameters", modules.mine, {name: value})
        finally:
            modules.w.run("set_parameters", modules.mine, original)
        if idle:
            raise Violation(
                f"changing {', '.join(idle)} does not change the output: "
                f"{'it is' if len(idle) == 1 else 'they are'} never used (a layer built but not "
                "applied, or the same layer applied twice)",
                unused=idle,
            )
        return f"each of the {len(original)} parameters changes the output"

    results.append(
        run_probe(
            ctx,
            "every_parameter_matters",
            every_parameter_matters,
            passed="every parameter changes the output",
        )
    )
    return results


def fill(opts: CallOptions, example: Example) -> Example:
    """``example`` with a size for every named dimension (the largest of its range)."""
    sizes = dict(example.sizes)
    for spec in opts.inputs.values():
        for d in spec.shape:
            if isinstance(d, str) and d not in sizes:
                sizes[d] = opts.dims.get(d, (1, 4))[1]
    return Example(sizes, example.scale, example.seed)
