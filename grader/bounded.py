"""One pass over a finished result: every string cleaned, every list and field bounded.

A `SubmissionResult` carries what the candidate wrote and what their code said, and the
stages that produce it each keep what they need. Rather than trust every stage to clean and
cut what it stores, the result is walked once on its way out (`grader.report.write_reports`)
and on its way back in (`grader.report.load_result`): every string passes `grader.text.clean`
with the field limit, every list that can carry text keeps at most ``items`` entries, free-
form data is cut below ``depth`` levels, and the extracted source keeps a bounded prefix of
whole lines (with the candidate's line numbers inside it). What was cut is listed in
``intake["truncated"]``, so the reader knows the result is not the whole story.

The pass is idempotent (a bounded result passes through unchanged), so re-rendering a
report from ``result.json`` gives the same page.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grader.config import DEFAULT_REPORT_LIMITS, ReportLimits
from grader.result import CurvePoint, SubmissionResult, Timing
from grader.text import clean

KEY_CHARS = 200
"""Characters kept of a dict key (a counterexample's or the intake's field names)."""

TRUNCATED = "truncated"
"""The ``intake`` entry listing what the pass cut."""

_NO_TEXT = (bool, int, float, type(None), CurvePoint, Timing)
"""Items that carry no candidate text: a list of them is the grader's own and never cut."""


def bounded(
    result: SubmissionResult, limits: ReportLimits = DEFAULT_REPORT_LIMITS
) -> SubmissionResult:
    """``result`` with its strings cleaned and everything bounded by ``limits``."""
    cuts: list[str] = []
    source, kept_lines = _source(result.source, limits, cuts)
    walk = _Walk(limits, cuts)
    changes = {
        f.name: walk.value(getattr(result, f.name), f.name, 0)
        for f in dataclasses.fields(result)
        if f.name not in ("source", "candidate_lines", "intake")
    }
    intake = walk.value(result.intake, "intake", 0)
    intake = intake if isinstance(intake, dict) else {"entry": intake}
    if cuts:
        earlier = intake.get(TRUNCATED)
        earlier = earlier if isinstance(earlier, list) else []
        intake[TRUNCATED] = list(dict.fromkeys([*earlier, *cuts]))
    return dataclasses.replace(
        result,
        **changes,
        source=source,
        candidate_lines=tuple(n for n in result.candidate_lines if n <= kept_lines),
        intake=intake,
    )


def _source(source: str, limits: ReportLimits, cuts: list[str]) -> tuple[str, int]:
    """(the source cleaned, its first whole lines within the limits; how many lines that is)."""
    lines = clean(source).split("\n")
    kept, size = [], 0
    for line in lines[: limits.source_lines]:
        if size + len(line) + 1 > limits.source_chars:
            break
        kept.append(line)
        size += len(line) + 1
    if len(kept) < len(lines):
        if not kept:  # one enormous first line: keep its start
            kept = [lines[0][: limits.source_chars]]
        cuts.append(
            f"source: {len(lines):,} lines ({len(source):,} characters), the first "
            f"{len(kept):,} kept"
        )
    return "\n".join(kept), len(kept)


@dataclasses.dataclass
class _Walk:
    limits: ReportLimits
    cuts: list[str]

    def value(self, value: Any, where: str, depth: int) -> Any:
        """``value`` bounded; ``depth`` counts the dicts and lists around it since the
        nearest dataclass (the result's own structure is never cut, free-form data is)."""
        if isinstance(value, str):
            return clean(value, self.limits.field_chars)
        if isinstance(value, _NO_TEXT):
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {
                f.name: self.value(getattr(value, f.name), f"{where}.{f.name}", 0)
                for f in dataclasses.fields(value)
            }
            return dataclasses.replace(value, **changes)
        if depth >= self.limits.depth:
            self.cuts.append(f"{where}: nested deeper than {self.limits.depth} levels")
            return f"(nested deeper than {self.limits.depth} levels: not kept)"
        if isinstance(value, dict):
            items = list(value.items())
            kept = self._capped(items, where)
            return {
                clean(k, KEY_CHARS): self.value(v, f"{where}.{clean(k, KEY_CHARS)}", depth + 1)
                for k, v in kept
            }
        if isinstance(value, (list, tuple)):
            kept = self._capped(list(value), where)
            walked = [self.value(v, where, depth + 1) for v in kept]
            return tuple(walked) if isinstance(value, tuple) else walked
        return clean(value, self.limits.field_chars)  # anything else is shown as text

    def _capped(self, items: list[Any], where: str) -> list[Any]:
        if len(items) <= self.limits.items or all(isinstance(i, _NO_TEXT) for i in items):
            return items
        self.cuts.append(f"{where}: {len(items):,} entries, the first {self.limits.items:,} kept")
        return items[: self.limits.items]
