"""Properties of the candidate's whole language model, run before the training check.

Built as the handout does, ``Model(ntoken, d_model, nhead, d_hid, nlayers, dropout)``, called
as ``forward(src, src_mask)`` with ``src`` in the layout the assignment's loop uses
(batch-first: (batch, seq) token ids -> (batch, seq, ntoken) logits), in eval mode.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.checks import draw
from grader.checks.attention import skip
from grader.checks.base import SuiteContext, Violation, assert_no_leak, run_property
from grader.checks.mask_source import MaskSource
from grader.result import CheckResult
from grader.sandbox import CandidateError, StaleHandle

VOCAB = 50
"""A small vocabulary keeps the logits cheap to move; the properties do not depend on it."""
SIZES = {"d_model": 16, "nhead": 2, "d_hid": 32, "nlayers": 2, "dropout": 0.0}
"""A small model of the handout's shape (the handout uses 200/2/200/2)."""
LOGIT_TOLERANCE = 1e-4
"""Relative change of float32 logits below which swapped tokens count as unchanged: float32
rounding of a model that ignores order moves them by about 1e-7."""
PRECISE_TOLERANCE = 1e-9
"""The same in float64, where such a model moves them by about 1e-16: a model initialised as
GPT-2 is (normal(0, 0.02)) attends almost uniformly at first, so its positions move its
logits by a few millionths of their size, under `LOGIT_TOLERANCE` but far above this."""
LAYOUT_PROBE = (3, 7)
"""(batch, seq) of the window that tells a batch-first model from a seq-first one: unequal,
so that a mask for the sequence cannot fit the batch axis."""
SEQ_FIRST = (
    "your model is seq-first throughout: it takes (seq, batch) token ids and returns (seq, batch, "
    "vocab) logits, while the handout's model and loop are batch-first ((batch, seq) in, (batch, "
    "seq, vocab) out). The other checks, the training runs and the timing called it through a "
    "view that transposes its input and output, so they judge the model itself; to follow the "
    "handout, make the model batch-first and feed it batch-first windows"
)


def tokens(batch: int, seq: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (batch, seq), generator=gen)  # (B, L)


def is_seq_first(worker: Any, model_symbol: str, source: MaskSource | None) -> bool:
    """Whether the candidate's model is seq-first throughout: a batch-first window (batch !=
    seq) does not give (batch, seq, vocab) logits, and the same window transposed gives
    (seq, batch, vocab). A model that only returns its logits transposed is not (its input is
    batch-first), and stays a `model_output_shape` failure."""
    batch, seq = LAYOUT_PROBE
    src = tokens(batch, seq, 0)  # (batch, seq)
    try:
        handle = worker.new(model_symbol, VOCAB, *SIZES.values())
        worker.call_method(handle, "eval")
        mask = (
            None
            if source is None or source.style is None
            else source.mask(worker, seq, torch.float32)
        )
    except CandidateError:
        return False  # it cannot be built: the checks say so

    def logits_shape(window: torch.Tensor) -> tuple[int, ...] | None:
        try:
            out = worker.call(handle, window, mask)
        except CandidateError:
            return None
        return tuple(out.shape) if isinstance(out, torch.Tensor) else None

    if logits_shape(src) == (batch, seq, VOCAB):
        return False
    return logits_shape(src.t().contiguous()) == (seq, batch, VOCAB)


def run(ctx: SuiteContext) -> list[CheckResult]:
    w = ctx.worker
    source = ctx.shared.get("mask_source")
    model_symbol = ctx.symbol
    names = (
        "model_output_shape",
        "model_causal",
        "model_uses_positions",
        "model_batch_independent",
    )
    if model_symbol is None:
        return [skip(ctx, n, "no model class found") for n in names]
    seq_first = bool(ctx.shared.get("seq_first"))

    def build() -> Any:
        handle = w.new(model_symbol, VOCAB, *SIZES.values())
        w.call_method(handle, "eval")
        if seq_first:
            handle = w.run("batch_first_view", handle)  # (batch, seq) in, (batch, seq, vocab) out
        return handle

    model: dict[str, Any] = {}
    try:
        model["handle"] = build()
    except CandidateError as exc:  # construction failed: no property can run
        return [
            CheckResult(
                name=f"{ctx.task.id}.{n}",
                task=ctx.task.id,
                status="error",
                message=f"building the model raised {exc.summary()}",
            )
            for n in names
        ]

    def mask_for(length: int) -> torch.Tensor | None:
        # Their own mask function is called even when its masks were not identified as causal:
        # graded with a stand-in (`grader.stand_ins`) the same name returns a correct mask.
        if source is None or (source.style is None and source.function is None):
            return None
        return source.mask(w, length, torch.float32)

    def precise() -> Any:
        """The model in float64, or None when it does not run in float64 (a tensor made
        in float32 inside forward): positions are judged at float64 precision, where a
        small initialisation's tiny positional effect stands far above rounding."""
        handle = build()
        try:
            w.call_method(handle, "double")
            w.call(handle, tokens(1, 3, 0), None)
        except CandidateError:
            return None
        return handle

    def logits(src: torch.Tensor, masked: bool = True, which: str = "handle") -> torch.Tensor:
        mask = mask_for(src.shape[1]) if masked else None
        make = build if which == "handle" else precise
        if which not in model:
            model[which] = make()
        if model[which] is None:  # no float64 model: the float32 one
            which = "handle"
        try:
            out = w.call(model[which], src, mask)
        except StaleHandle:  # an earlier property killed the worker, which was restarted
            model[which] = make()
            out = w.call(model[which], src, mask)
        if not isinstance(out, torch.Tensor):
            raise Violation(f"forward returned {type(out).__name__}, expected logits")
        return out

    def output_shape(ex: draw.TokenShape) -> None:
        batch, seq = ex.batch, ex.seq
        out = logits(tokens(batch, seq, ex.seed))
        expected = (batch, seq, VOCAB)
        if tuple(out.shape) == (seq, batch, VOCAB) and batch != seq:
            raise Violation(
                f"logits have shape {tuple(out.shape)} = (seq, batch, vocab); the assignment's loop is batch-first and expects {expected}",
                batch=batch,
                seq=seq,
            )
        if tuple(out.shape) != expected:
            raise Violation(
                f"logits have shape {tuple(out.shape)}, expected (batch, seq, vocab) = {expected}",
                batch=batch,
                seq=seq,
            )
        rows = out.double().sum(dim=-1)  # (batch, seq): 1 everywhere for probabilities
        if bool((out >= 0).all()) and torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
            raise Violation(
                "your model returns probabilities, not logits: every row is non-negative and sums "
                "to 1, so a softmax is applied inside the model. nn.CrossEntropyLoss applies "
                "log-softmax itself, so training then sees softmax twice and the loss barely "
                "moves; return the logits (the output of the final linear layer)",
                batch=batch,
                seq=seq,
            )

    def causal(ex: tuple[draw.TokenShape, int]) -> None:
        shape, t = ex
        batch, seq = shape.batch, shape.seq
        src = tokens(batch, seq, shape.seed)
        changed = src.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % VOCAB  # a different token after t
        before = logits(src)
        moved = (before - logits(changed))[:, : t + 1].abs().amax(dim=(0, 2))  # (t+1,)
        assert_no_leak(
            moved,
            t,
            before.dtype,
            "the logits",
            " (is the causal mask passed down to every layer?)",
            inputs="tokens",
            **shape.describe(),
        )

    def along_batch(src: torch.Tensor) -> float:
        """How much a sequence's logits change when it moves from batch row 0 to row 1: zero
        when rows are independent, not zero when something indexed by the batch row (an
        encoding added along the batch axis) reaches the model."""
        same = src[:1].expand(2, -1)  # (2, L): the same sequence in rows 0 and 1
        out = logits(same, masked=False)
        return float((out[0] - out[1]).abs().max())

    def uses_positions(ex: draw.TokenShape) -> None:
        batch, seq = ex.batch, ex.seq
        src = tokens(batch, seq, ex.seed)
        src[:, 0] = 1
        src[:, 1] = 2  # two different early tokens, then swap them
        swapped = src.clone()
        swapped[:, [0, 1]] = swapped[:, [1, 0]]
        # Without a mask: from the second layer on, a causal mask alone leaks token order, so
        # only unmasked attention tells whether positional information is there.
        # In float64 when the model runs in it (`PRECISE_TOLERANCE`): a small initialisation
        # makes the positional effect tiny, never zero.
        original = logits(src, masked=False, which="double")[:, -1]  # (batch, vocab), last position
        moved = float((original - logits(swapped, masked=False, which="double")[:, -1]).abs().max())
        # Relative to the outputs' size: a model that returns probabilities (~1/vocab) moves
        # them by little, and still uses positions.
        relative = PRECISE_TOLERANCE if original.dtype == torch.float64 else LOGIT_TOLERANCE
        tolerance = relative * max(float(original.abs().max()), 1e-3)
        if moved <= tolerance:
            swap = (
                f"swapping the tokens at positions 0 and 1 leaves the logits at position {seq - 1} unchanged "
                f"(max change {moved:.2g}, in {str(original.dtype).removeprefix('torch.')}): no "
                "positional information reaches the model"
            )
            by_row = along_batch(src)
            if by_row > tolerance:
                raise Violation(
                    f"{swap}. The positional encoding is added along the batch axis instead: the same sequence in "
                    f"batch rows 0 and 1 gets logits that differ by {by_row:.3g}. A seq-first encoding of shape "
                    "(max_len, 1, d_model) indexed with x.size(0) does this on batch-first (batch, seq, d_model) "
                    "input; index the sequence axis, x.size(1), and broadcast over the batch",
                    max_change=moved,
                    batch_axis_difference=by_row,
                    **ex.describe(),
                )
            raise Violation(
                f"{swap} (is a positional encoding added along the sequence axis?)",
                max_change=moved,
                **ex.describe(),
            )

    def batch_independent(ex: draw.TokenShape) -> None:
        batch, seq = ex.batch, ex.seq
        src = tokens(batch + 1, seq, ex.seed)
        whole, alone = logits(src)[-1], logits(src[-1:])[0]
        diff = float((whole - alone).abs().max())
        if diff > LOGIT_TOLERANCE:
            raise Violation(
                f"the logits of a sequence change by {diff:.3g} depending on its index in the batch: "
                "something is added along the batch axis (a positional encoding indexed by batch?)",
                batch=batch + 1,
                seq=seq,
                max_difference=diff,
            )

    shapes = draw.token_shapes()
    layout = (
        CheckResult(f"{ctx.task.id}.model_output_shape", ctx.task.id, "fail", SEQ_FIRST)
        if seq_first
        else run_property(
            ctx,
            "model_output_shape",
            shapes,
            output_shape,
            passed="logits have shape (batch, seq, vocab)",
        )
    )
    return [
        layout,
        run_property(
            ctx,
            "model_causal",
            draw.with_cut(shapes),
            causal,
            passed="the logits at position t never depend on later tokens",
        ),
        run_property(
            ctx,
            "model_uses_positions",
            draw.token_shapes(min_seq=3),
            uses_positions,
            passed="positional information reaches the model (token order changes the output)",
        ),
        run_property(
            ctx,
            "model_batch_independent",
            shapes,
            batch_independent,
            passed="each sequence's logits are independent of its place in the batch",
        ),
    ]
