"""Where a candidate's causal masks come from, and which convention they use.

Three sources, tried in order:

1. ``function``: the candidate's mask function (handout name or alias), called with a length;
2. ``observed``: the mask is built inline (inside ``train()`` or a notebook cell), so we run
   the candidate's own training function on a few tiny batches with their attention wrapped,
   and read the masks that reach it;
3. ``probe``: neither, so we ask the candidate's attention which convention it understands
   by giving it a causal mask in each convention and comparing with the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from grader.checks.draw import AttnShape, qkv
from grader.checks.masks import Convention, MaskStyle, causal_keep, identify
from grader.sandbox import WorkerError
from reference.attention import attention as reference_attention

PROBE_LENGTH = 5
"""Length used to identify a convention: long enough that keep and block patterns differ."""


@dataclass
class MaskSource:
    """The candidate's masks: how we obtain one for any length, and their convention."""

    style: MaskStyle | None
    """Identified convention, or None when none could be identified."""
    kind: str | None
    """``function``, ``observed``, ``probe`` or None."""
    detail: str
    """One sentence for the report: where the masks came from and what they are."""
    function: str | None = None
    """The candidate's mask function, when there is one."""
    observed: list[tuple[int, MaskStyle | str]] = field(default_factory=list)
    """(length, style or reason) of each mask seen reaching the attention."""
    fixed_length: int | None = None
    """Set when the mask function ignores its argument and always returns this length."""
    evidence: dict[str, Any] = field(default_factory=dict)
    """What was seen, in plain values, when no convention could be identified: the call and
    the mask it returned (small masks in full, larger ones by shape)."""

    @property
    def leading(self) -> tuple[int, ...]:
        """The leading singleton dims the candidate gives their masks: from the identified
        convention, else from the shape of the mask their function returned (a (1, L, L)
        mask that is not causal still says how their model indexes masks)."""
        if self.style is not None:
            return self.style.leading
        shape = self.evidence.get("mask_shape")
        if isinstance(shape, tuple) and len(shape) > 2 and all(d == 1 for d in shape[:-2]):
            return tuple(shape[:-2])
        return ()

    def mask(self, worker: Any, length: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """A causal mask of ``length`` in the candidate's convention: from their function when
        it honours the length, else built here in their convention (so that a mask bug is
        charged to the mask task only, not to every module that takes a mask)."""
        if self.function is not None and self.fixed_length is None:
            return worker.call(self.function, length)
        assert self.style is not None
        return self.style.encode(causal_keep(length), dtype)


def find(
    worker: Any, mask_fn: str | None, attention_fn: str | None, observe: Any = None
) -> MaskSource:
    """Identify the candidate's mask source.

    ``observe`` is a callable that runs the candidate's own loop with recording switched on and
    returns the recorded masks (see `grader.training.observe_masks`); None skips that source.
    """
    if mask_fn is not None:
        try:
            mask = worker.call(mask_fn, PROBE_LENGTH)
        except WorkerError as exc:
            return MaskSource(
                None,
                "function",
                f"your mask function {mask_fn}({PROBE_LENGTH}) failed: {exc.summary()}",
                function=mask_fn,
            )
        style = identify(mask, PROBE_LENGTH)
        if (
            isinstance(style, str)
            and isinstance(mask, torch.Tensor)
            and mask.dim() >= 2
            and mask.shape[-1] != PROBE_LENGTH
        ):
            own = int(mask.shape[-1])  # the function ignores its argument: read its own length
            own_style = identify(mask, own)
            if not isinstance(own_style, str):
                return MaskSource(
                    own_style,
                    "function",
                    f"{mask_fn}({PROBE_LENGTH}) returned a mask for {own} positions: the length is hard-coded "
                    f"({own_style.describe()})",
                    function=mask_fn,
                    fixed_length=own,
                )
        if isinstance(style, str):
            return MaskSource(
                None,
                "function",
                f"{mask_fn}({PROBE_LENGTH}) is not a causal mask: {style}",
                function=mask_fn,
                evidence={"called": f"{mask_fn}({PROBE_LENGTH})", **shown(mask)},
            )
        return MaskSource(
            style, "function", f"masks from {mask_fn}(): {style.describe()}", function=mask_fn
        )

    if observe is not None:
        tensors = [m for m in observe() if isinstance(m, torch.Tensor)]
        seen = [(int(m.shape[-1]), identify(m, int(m.shape[-1]))) for m in tensors]
        styles = [s for _, s in seen if isinstance(s, MaskStyle)]
        if styles:
            lengths = sorted({n for n, s in seen if isinstance(s, MaskStyle)})
            return MaskSource(
                styles[0],
                "observed",
                f"mask built inline, observed reaching your attention during your train(): "
                f"{styles[0].describe()}, lengths {lengths}",
                observed=seen,
            )
        if seen:
            return MaskSource(
                None,
                "observed",
                f"a mask reached your attention but is not causal: {seen[0][1]}",
                observed=seen,
                evidence={"observed_in": "your train()", **shown(tensors[0])},
            )

    if attention_fn is not None:
        style = probe(worker, attention_fn)
        if style is not None:
            return MaskSource(
                style,
                "probe",
                f"no mask function found; your attention understands {style.describe()} masks",
            )
    return MaskSource(
        None,
        None,
        "no causal mask found: no mask function, none observed, and your attention accepted no mask convention",
    )


def shown(mask: object, most: int = 64) -> dict[str, Any]:
    """A mask for a report: its values when it has at most ``most`` entries, else its shape."""
    if not isinstance(mask, torch.Tensor):
        return {"returned": type(mask).__name__}
    facts: dict[str, Any] = {
        "mask_shape": tuple(mask.shape),
        "mask_dtype": str(mask.dtype).removeprefix("torch."),
    }
    if mask.numel() <= most:
        facts["mask"] = mask.tolist()
    return facts


def probe(worker: Any, attention_fn: str) -> MaskStyle | None:
    """The convention under which the candidate's attention computes causal attention."""
    shape = AttnShape(batch=1, heads=1, len_q=PROBE_LENGTH, len_k=PROBE_LENGTH, head_dim=4, seed=11)
    q, k, v = qkv(shape)
    keep = causal_keep(PROBE_LENGTH)
    expected = reference_attention(q, k, v, mask=keep)
    conventions: tuple[Convention, ...] = (
        "keep-bool",
        "block-bool",
        "additive",
        "keep-float",
        "block-float",
    )
    for convention in conventions:
        style = MaskStyle(
            convention, (), torch.bool if convention.endswith("bool") else torch.float64
        )
        try:
            out = worker.call(attention_fn, q, k, v, mask=style.encode(keep, q.dtype))
        except WorkerError:
            continue
        if (
            isinstance(out, torch.Tensor)
            and out.shape == expected.shape
            and torch.allclose(out, expected, atol=1e-6)
        ):
            return style
    return None
