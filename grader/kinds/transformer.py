"""The transformer building blocks: attention, multi-head attention, the encoder block and the
causal mask, each a kind whose checks compare the candidate's code with `reference`.

They share one fact, found once per submission: where the candidate's causal masks come
from and which convention they use (`mask_source`). Every check that passes a mask builds it
in that convention, so a candidate who chose boolean-block or additive masks is judged on
their own terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from grader import kinds
from grader.checks import attention, causal_mask, encoder_block, multi_head_attention
from grader.checks import mask_source as masks
from grader.checks.projections import candidates, multi_head
from grader.config import TimingConfig
from grader.kinds.base import Check, Kind, TaskRun
from grader.result import CheckResult
from grader.sandbox import CandidateError, Sandbox, WorkerError
from grader.timing import FORWARD_BACKWARD, Item, Side, built, output_check, same_output
from reference.masks import causal_mask as reference_causal_mask

# --- the shared fact: the candidate's masks ---------------------------------------------------


def mask_source(run: TaskRun) -> masks.MaskSource:
    """Where the candidate's causal masks come from (found on first use, then shared): their
    mask function, else the masks their own ``train()`` passes to the model, else the
    convention their attention accepts."""
    if "mask_source" in run.shared:
        return run.shared["mask_source"]
    from grader.kinds import language_model  # the loop that reveals masks built inline

    run.say("finding the causal mask")
    mask_fn = run.symbol_of_kind("causal_mask")
    attention_fn = run.symbol_of_kind("attention")
    observe = language_model.mask_observer(run, attention_fn)
    try:
        source = masks.find(run.worker, mask_fn, attention_fn, observe)
    except WorkerError as exc:
        run.worker.restart()
        source = masks.MaskSource(None, None, f"finding the mask failed: {exc.summary()}")
    run.shared["mask_source"] = source
    return source


def window_mask(run: TaskRun, length: int) -> torch.Tensor | None:
    """The candidate's own causal mask for a window of ``length`` (float32), in their
    convention; None when they have none or it cannot be built (the checks say why).
    A mask function whose masks were not identified is called each time, never cached: while
    a task is graded in isolation (`grader.stand_ins`) its name is a correct stand-in."""
    source = mask_source(run)
    if source.style is None and source.function is not None:
        try:
            mask = source.mask(run.worker, length, torch.float32)
        except CandidateError:
            return None
        except WorkerError:
            run.worker.restart()
            return None
        return mask if isinstance(mask, torch.Tensor) else None
    cache = run.shared.setdefault("window_masks", {})
    if length not in cache:
        source = mask_source(run)
        mask = None
        if source.style is not None:
            try:
                mask = source.mask(run.worker, length, torch.float32)
            except WorkerError:
                run.worker.restart()
        cache[length] = mask
    return cache[length]


def timing_masks(run: TaskRun, length: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(the candidate's mask, the reference's keep-mask) for a timed window: the reference
    gets a causal mask exactly when the candidate does, so both do the same work. Only an
    identified mask: one that is not causal would make their output differ from ours."""
    theirs = window_mask(run, length) if mask_source(run).style is not None else None
    return theirs, None if theirs is None else reference_causal_mask(length)  # (L, L)


def own_projections(
    x: torch.Tensor,
    keep: torch.Tensor | None,
    heads: int,
    state: dict[str, torch.Tensor],
    timing: TimingConfig,
) -> Callable[[Any, Any], str | None]:
    """The output check of a timed multi-head module: its weights are its own (the reference
    module's are others), so the truth is multi-head attention computed here, in the grader,
    from the module's own projections (`grader.checks.projections`) on the timed input."""
    weights = {k: v.double() for k, v in state.items()}
    truths = [
        multi_head(x.double(), x.double(), x.double(), option, heads, keep)
        for option in candidates(weights, x.shape[-1], heads)
    ]

    def compare(theirs: Any, _ours: Any) -> str | None:
        got = theirs.get("output")
        if not isinstance(got, torch.Tensor):
            return "returned no output tensor to compare"
        for truth in truths:
            if truth.shape == got.shape and torch.allclose(
                got.double(), truth, rtol=timing.output_rtol, atol=timing.output_atol * 10
            ):
                return None
        return "returned an output that is not multi-head attention of its own projections on the timed input"

    return compare


class MaskUser(Kind):
    """A kind whose checks pass masks: it finds the candidate's mask source first."""

    def prepare(self, run: TaskRun) -> None:
        mask_source(run)


# --- the kinds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionOptions:
    timed_shape: tuple[int, int, int, int] = (20, 2, 35, 100)
    """(batch, heads, seq, head_dim) of the timed forward and backward pass: the handout's
    model (batch 20, 2 heads of width 100, windows of 35 tokens)."""


@kinds.register
class Attention(MaskUser):
    name = "attention"
    title = "scaled dot-product attention(query, key, value, mask=None, dropout=None)"
    Options = AttentionOptions
    symbol_kind = "function"
    timed = True
    stand_in = True
    reference_modules = ("masks", "attention")
    checks = (
        Check("output_shape", "the output has shape (batch, heads, seq_q, head_dim)"),
        Check("matches_reference", "equals the reference in float64, without a mask"),
        Check("matches_reference_masked", "equals the reference with masks in their convention"),
        Check("weights_are_distribution", "each query's weights sum to 1 (equal values in, that value out)"),
        Check("large_logits_finite", "logits of order 1e3 stay finite in float32 (a stable softmax)"),
        Check("cross_lengths", "query and key lengths may differ", "reusability"),
        Check("dropout_none_deterministic", "no randomness when dropout is None"),
        Check("dropout_respected", "a dropout module acts in training mode, after the softmax, and not in eval mode"),
    )  # fmt: skip

    def check(self, run: TaskRun) -> list[CheckResult]:
        return attention.run(run)

    def timing_item(self, run: TaskRun, reference: Sandbox) -> Item:
        batch, heads, seq, head_dim = run.options.timed_shape
        gen = torch.Generator().manual_seed(run.config.seed)
        shape = (batch, heads, seq, head_dim)
        q, k, v = (torch.randn(shape, generator=gen).requires_grad_() for _ in range(3))
        theirs_mask, our_mask = timing_masks(run, seq)
        w, symbol = run.worker, run.symbol
        theirs = built(w, lambda: w.symbol(symbol), f"looking up {symbol}")
        ours = reference.symbol("reference.attention:attention")
        check = output_check(shape)
        timing = run.config.timing
        return Item(
            f"attention fwd+bwd {shape}",
            Side(
                f"your {symbol}",
                w,
                lambda n: w.run(FORWARD_BACKWARD, theirs, n, q, k, v, theirs_mask),
                check,
                (theirs,),
            ),
            Side(
                "the reference attention",
                reference,
                lambda n: reference.run(FORWARD_BACKWARD, ours, n, q, k, v, our_mask),
                check,
                (ours,),
            ),
            compare=same_output(timing.output_rtol, timing.output_atol),
        )


@dataclass(frozen=True)
class MultiHeadOptions:
    timed_shape: tuple[int, int, int] = (20, 35, 200)
    """(batch, seq, d_model) of the timed forward and backward pass: the handout's model."""
    timed_heads: int = 2
    """Heads of the timed module (the handout's 2)."""


@kinds.register
class MultiHeadAttention(MaskUser):
    name = "multi_head_attention"
    title = "multi-head self-attention module MHA(dim, n_heads, dropout); forward(q, k, v, mask)"
    Options = MultiHeadOptions
    symbol_kind = "class"
    timed = True
    stand_in = True
    depends_on = ("attention",)
    reference_modules = ("masks", "attention")
    checks = (
        Check("output_shape", "the output has shape (batch, seq, dim)"),
        Check("matches_reference", "equals the reference module once its weights are mapped onto the reference's"),
        Check("permutation_equivariant", "permuting the positions (no mask) permutes the output alike"),
        Check("batch_independent", "each sequence's output is independent of the rest of the batch"),
        Check("causal", "with a causal mask, position t never depends on later positions"),
        Check("default_construction", "MHA(dim, n_heads) works with the signature's defaults", "reusability"),
        Check("heads_range", "works for any number of heads that divides dim", "reusability"),
        Check("rejects_indivisible", "refuses a head count that does not divide dim"),
        Check("every_parameter_trains", "every projection receives a gradient"),
    )  # fmt: skip

    def check(self, run: TaskRun) -> list[CheckResult]:
        return multi_head_attention.run(run)

    def timing_item(self, run: TaskRun, reference: Sandbox) -> Item:
        batch, seq, d_model = run.options.timed_shape
        heads = run.options.timed_heads
        gen = torch.Generator().manual_seed(run.config.seed)
        x = torch.randn(batch, seq, d_model, generator=gen).requires_grad_()  # (B, L, D)
        theirs_mask, our_mask = timing_masks(run, seq)
        w, symbol = run.worker, run.symbol
        # Dropout 0 on both sides: the attention itself is timed, not a random mask.
        theirs = built(
            w, lambda: w.new(symbol, d_model, heads, 0.0), f"{symbol}({d_model}, {heads}, 0.0)"
        )
        ours = reference.new("reference.attention:MultiHeadSelfAttention", d_model, heads, 0.0)
        check = output_check((batch, seq, d_model))
        state = built(w, lambda: w.state_dict(theirs), f"the weights of {symbol}")
        expected = own_projections(x, our_mask, heads, state, run.config.timing)
        return Item(
            f"multi-head attention fwd+bwd ({batch}, {seq}, {d_model}), {heads} heads",
            Side(
                f"your {symbol}",
                w,
                lambda n: w.run(FORWARD_BACKWARD, theirs, n, x, x, x, theirs_mask),
                check,
                (theirs,),
            ),
            Side(
                "the reference multi-head attention",
                reference,
                lambda n: reference.run(FORWARD_BACKWARD, ours, n, x, x, x, our_mask),
                check,
                (ours,),
            ),
            compare=expected,
        )


@kinds.register
class EncoderBlock(MaskUser):
    name = "encoder_block"
    title = "post-LayerNorm encoder block Block(attn, d_model, dim_feedforward, eps, dropout)"
    symbol_kind = "class"
    stand_in = True
    depends_on = ("multi_head_attention", "attention")
    reference_modules = ("masks", "attention", "encoder")
    checks = (
        Check("output_shape", "the output has shape (batch, seq, d_model)"),
        Check(
            "matches_reference",
            "equals the post-norm block rebuilt from its own randomised weights and activation",
        ),
        Check("every_parameter_matters", "changing any one parameter changes the block's output"),
        Check("deterministic_eval", "no randomness in eval mode"),
        Check("stochastic_train", "dropout acts in training mode"),
        Check("causal", "with a causal mask, position t never depends on later positions"),
    )

    def check(self, run: TaskRun) -> list[CheckResult]:
        return encoder_block.run(run)


@dataclass(frozen=True)
class CausalMaskOptions:
    observe_in: tuple[str, ...] = ()
    """Functions in which a mask built inline (``torch.triu`` in the loop) is looked for
    when there is no mask function; the masks reaching the attention are then observed."""


@kinds.register
class CausalMask(MaskUser):
    name = "causal_mask"
    title = "causal mask of a length, in any convention (boolean keep or block, additive -inf)"
    Options = CausalMaskOptions
    runs_without_symbol = True  # a mask built inline is observed at run time
    stand_in = True
    depends_on = ("attention",)  # its causal checks apply the mask with their attention
    reference_modules = ("masks",)
    checks = (
        Check("convention", "the mask is causal in a recognised convention, for the length asked"),
        Check("causal", "applied with their attention, no position sees a later one"),
        Check("attends_self", "every position may attend to itself (no NaN rows)"),
        Check("length_one", "a mask of length 1 works", "reusability"),
        Check("other_length", "masks of other lengths are causal too", "reusability"),
    )

    def check(self, run: TaskRun) -> list[CheckResult]:
        found = run.symbol is not None
        source = mask_source(run)
        if not found and source.style is None and not _resolved(run):
            return []  # nothing of the candidate's to judge: the task is missing
        return causal_mask.run(run)


def _resolved(run: TaskRun) -> bool:
    resolution = run.shared.get("resolutions", {}).get(run.task.id)
    return bool(resolution is not None and resolution.found)
