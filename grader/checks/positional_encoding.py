"""Properties of the candidate's learnable positional encoding.

The test asks an open question ("design a learnable positional encoding"), so constructors
differ from one answer to the next; they are called with arguments bound by parameter name
(`grader.checks.binding`). The encoding is called as the handout documents it: ``forward(x)``
on batch-first ``(batch, seq, d_model)`` float inputs with ``seq <= max_len``, in eval mode.

Properties that are about the encoding's structure (the same for every item of a batch,
different at every position) run with the module's parameters redrawn at random, so that a
table initialised to zeros is judged on what it can learn, not on its first values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import strategies as st

from grader.checks import draw
from grader.checks.base import SuiteContext, Violation, run_probe, run_property
from grader.checks.binding import construct, order_of, params_of
from grader.result import CheckResult
from grader.sandbox import CandidateError

RANDOM_STD = 1.0
"""Scale of the redrawn parameters: unit scale, so positions differ far beyond float error."""
TOLERANCE = 1e-5
"""Two float32 outputs closer than this (relative to their scale) count as equal."""
MAX_LEN = 12
"""Longest table the properties build: every length up to it is tried, so it stays small."""
WIDTHS = (2, 4, 6, 8, 12, 16)
"""d_model values drawn: even, as sinusoid-style hybrids need, and small enough to be fast."""


# --- calling the candidate's module -------------------------------------------------------


def forward(worker: Any, module: Any, x: torch.Tensor) -> torch.Tensor:
    """``module(x)``, which must be a tensor of finite values."""
    out = worker.call(module, x)
    if not isinstance(out, torch.Tensor):
        raise Violation(f"forward returned {type(out).__name__}, expected a tensor")
    if out.is_floating_point() and not bool(out.isfinite().all()):
        raise Violation(f"the output for a {tuple(x.shape)} input contains NaN or inf")
    return out


def scale(*tensors: torch.Tensor) -> float:
    """The size of the values compared, for a relative tolerance."""
    return max(1.0, *(float(t.detach().abs().max()) for t in tensors if t.numel()))


# --- the suite ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodingCase:
    """One module and input: an encoding built for ``max_len`` positions of ``d_model``
    features, called on a (batch, max_len, d_model) input."""

    batch: int
    max_len: int
    d_model: int
    seed: int

    def describe(self) -> dict[str, object]:
        return {
            "max_len": self.max_len,
            "d_model": self.d_model,
            "input_shape": (self.batch, self.max_len, self.d_model),
            "seed": self.seed,
        }


def cases(*, min_len: int = 1, min_batch: int = 1) -> st.SearchStrategy[EncodingCase]:
    return st.builds(
        EncodingCase,
        batch=st.integers(min_batch, 3),
        max_len=st.integers(min_len, MAX_LEN),
        d_model=st.sampled_from(WIDTHS),
        seed=draw.seeds(),
    )


def run(ctx: SuiteContext) -> list[CheckResult]:
    w = ctx.worker
    name = ctx.symbol
    params = params_of(ctx.shared.get("symbols", {}), name)
    order = order_of(ctx.task.options, "max_len, d_model")

    def build(c: EncodingCase, randomize: bool = False) -> Any:
        module = construct(
            w, name, params, {"max_len": c.max_len, "d_model": c.d_model, "dropout": 0.0}, order
        )
        if randomize:
            w.run("positional_randomize", module, c.seed, RANDOM_STD)
        return module

    def learnable() -> str:
        probe = EncodingCase(2, 8, 16, 0)
        stored = w.run("positional_parameters", build(probe))
        trainable = {n: tuple(s) for n, s in stored["trainable"]}
        if trainable:
            listed = ", ".join(f"`{n}` {s}" for n, s in trainable.items())
            return f"the encoding has trainable parameters: {listed}"
        frozen = [f"`{n}` {tuple(s)}" for n, s in stored["frozen"]]
        buffers = [f"`{n}` {tuple(s)}" for n, s in stored["buffers"]]
        plain = [f"`{n}` {tuple(s)}" for n, s in stored["plain_tensors"]]
        if buffers:
            found = f"its table is a buffer ({', '.join(buffers)}, registered with register_buffer): saved and moved with the module, but never trained"
        elif frozen:
            found = f"its parameters are frozen ({', '.join(frozen)}, requires_grad=False)"
        elif plain:
            found = f"its table is a plain tensor attribute ({', '.join(plain)}): not a parameter, so no optimizer sees it"
        else:
            found = "it has no parameters at all: the encoding is computed in forward (a fixed function of the position)"
        raise Violation(
            f"the encoding is not learnable: {found}; wrap the table in nn.Parameter (or use nn.Embedding)",
            max_len=probe.max_len,
            d_model=probe.d_model,
            buffers=buffers,
            frozen=frozen,
            plain_tensors=plain,
        )

    def receives_gradients(c: EncodingCase) -> None:
        module = build(c)
        x = draw.randn(c.batch, c.max_len, c.d_model, seed=c.seed, dtype=torch.float32)
        grads = w.run("positional_grads", module, x, c.seed)
        if not grads:
            raise Violation(
                "the encoding has no trainable parameter to receive a gradient", **c.describe()
            )
        reached = {n: g for n, g in grads.items() if isinstance(g, torch.Tensor)}
        if not reached:
            raise Violation(
                f"back-propagating from the output reaches none of the parameters ({', '.join(grads)}): "
                "the learnable table is not used in forward, or is detached from the graph",
                **c.describe(),
            )
        if not any(bool(g.isfinite().all()) and float(g.abs().max()) > 0 for g in reached.values()):
            raise Violation(
                "the gradients reaching the encoding's parameters are all zero or not finite: "
                "training would never change it",
                **c.describe(),
            )

    def shape_kept(c: EncodingCase) -> None:
        x = draw.randn(c.batch, c.max_len, c.d_model, seed=c.seed, dtype=torch.float32)
        out = forward(w, build(c), x)
        if tuple(out.shape) != tuple(x.shape):
            raise Violation(
                f"a {tuple(x.shape)} input came back with shape {tuple(out.shape)}: the encoding "
                "must be added to the input, keeping (batch, seq, d_model)",
                **c.describe(),
            )

    def same_across_batch(c: EncodingCase) -> None:
        module = build(c, randomize=True)
        item = draw.randn(1, c.max_len, c.d_model, seed=c.seed, dtype=torch.float32)
        x = item.expand(c.batch, -1, -1).contiguous()  # (batch, seq, d_model): identical items
        out = forward(w, module, x)
        if tuple(out.shape) != tuple(x.shape):
            raise Violation(
                f"output shape {tuple(out.shape)} for a {tuple(x.shape)} input", **c.describe()
            )
        added = out - x  # (batch, seq, d_model): the encoding each item received
        spread = float((added - added[:1]).abs().max())
        if spread > TOLERANCE * scale(out):
            worst = int((added - added[:1]).abs().amax(dim=(1, 2)).argmax())
            raise Violation(
                f"identical sequences in one batch received different encodings (item {worst} differs from "
                f"item 0 by up to {spread:.3g}): the encoding depends on the index in the batch. It is "
                "indexed along the batch axis (x.size(0), or a (max_len, 1, d_model) table) instead of the "
                "sequence axis of batch-first (batch, seq, d_model) input",
                max_difference=round(spread, 6),
                **c.describe(),
            )

    def differs_by_position(c: EncodingCase) -> None:
        module = build(c, randomize=True)
        vector = draw.randn(c.batch, 1, c.d_model, seed=c.seed, dtype=torch.float32)
        x = vector.expand(
            -1, c.max_len, -1
        ).contiguous()  # (batch, seq, d_model): the same at every position
        out = forward(w, module, x)
        if tuple(out.shape) != tuple(x.shape):
            raise Violation(
                f"output shape {tuple(out.shape)} for a {tuple(x.shape)} input", **c.describe()
            )
        added = (out - x)[0]  # (seq, d_model)
        gaps = torch.cdist(added.double(), added.double())  # (seq, seq): distance between positions
        same = torch.eye(c.max_len, dtype=torch.bool)
        if float(gaps.masked_fill(same, float("inf")).min()) <= TOLERANCE * scale(out):
            i, j = divmod(int(gaps.masked_fill(same, float("inf")).argmin()), c.max_len)
            every = float(gaps.max()) <= TOLERANCE * scale(out)
            said = (
                "every position receives the same encoding"
                if every
                else f"positions {min(i, j)} and {max(i, j)} receive the same encoding"
            )
            raise Violation(
                f"with the same vector at every position, {said} (with randomly redrawn parameters): "
                "the model cannot tell these positions apart. Index the table by position "
                "(rows 0..seq-1 along dimension 1 of the input)",
                positions=(min(i, j), max(i, j)),
                **c.describe(),
            )

    def all_lengths(c: EncodingCase) -> None:
        module = build(c)
        for length in range(1, c.max_len + 1):
            x = draw.randn(c.batch, length, c.d_model, seed=c.seed + length, dtype=torch.float32)
            problem = None
            try:
                out = w.call(module, x)
                if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(x.shape):
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    problem = f"came back with shape {got}"
            except CandidateError as exc:
                problem = f"raised {exc.summary()}"
            if problem is not None:
                shorter = length < c.max_len
                advice = (
                    "It only works for sequences of exactly max_len positions, so a model built once cannot "
                    "take a shorter sequence (a shorter sentence, a last partial window): add only the first "
                    "x.size(1) rows of the table"
                    if shorter
                    else ""
                )
                raise Violation(
                    f"built with max_len={c.max_len}, a batch-first input of length {length} (shape "
                    f"{tuple(x.shape)}) {problem}. {advice}".strip(),
                    failing_length=length,
                    input_shape=(c.batch, length, c.d_model),
                    max_len=c.max_len,
                    seed=c.seed,
                )

    return [
        run_probe(ctx, "learnable", learnable, passed="the encoding is a trainable parameter"),
        run_property(
            ctx,
            "receives_gradients",
            cases(),
            receives_gradients,
            passed="back-propagation from the output reaches the encoding's parameters",
        ),
        run_property(
            ctx,
            "shape_kept",
            cases(),
            shape_kept,
            passed="the output keeps the input's shape (batch, seq, d_model)",
        ),
        run_property(
            ctx,
            "same_across_batch",
            cases(min_len=3, min_batch=2),
            same_across_batch,
            passed="every sequence of a batch receives the same encoding",
        ),
        run_property(
            ctx,
            "differs_by_position",
            cases(min_len=2),
            differs_by_position,
            passed="each position receives its own encoding",
        ),
        run_property(
            ctx,
            "all_lengths",
            cases(),
            all_lengths,
            criterion="reusability",
            passed="works for every sequence length from 1 to max_len",
        ),
    ]
