"""Where one submission's grading time goes: a wall-clock span per stage, in order.

The pipeline already tells its caller what it is doing (the ``progress`` callback that the
batch turns into its progress table: "reading", "checking attention", ...). `Stages` listens
to the same calls: each one ends the stage before it and starts the one it names, so the
stages follow one another without gaps and their seconds add up to the time the pipeline
took. That sum is what `--profile` prints and the scorecard summarises (the total and the
three largest), and every ``result.json`` keeps it under ``environment.stages``.

Work done alongside a stage (the static analysis while the worker starts, the reference
worker starting while the candidate's is checked) is recorded apart, in ``background``:
adding it to the stages would count the same seconds twice.

Seconds are wall-clock (``time.monotonic``), not CPU: what an interviewer waits for. On a
loaded machine they grow with the load, so a profile is read with the load average beside
it (the benchmark prints both).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Progress = Callable[[str], None]

DIGITS = 2
"""Seconds are kept to hundredths: finer says nothing on a machine shared with others."""


class Stages:
    """The stages of one grading, each with its seconds (a repeated name accumulates)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.spans: dict[str, float] = {}
        """Stage name -> seconds, in the order the stages first started."""
        self.background: dict[str, float] = {}
        """Work done alongside the stages (not part of their sum)."""
        self._current: str | None = None
        self._since = 0.0

    def mark(self, name: str) -> None:
        """End the current stage (if any) and start ``name``."""
        now = self.clock()
        self._close(now)
        self._current, self._since = name, now

    def stop(self) -> None:
        """End the current stage; the next `mark` starts a new one."""
        self._close(self.clock())
        self._current = None

    def add(self, name: str, seconds: float, *, background: bool = False) -> None:
        """Record ``seconds`` measured elsewhere (another process, another thread)."""
        target = self.background if background else self.spans
        target[name] = target.get(name, 0.0) + max(0.0, seconds)

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        """``with stages.span("reports"):`` a stage of its own, the one before resumed after
        it (its remaining seconds keep counting under its own name)."""
        previous = self._current
        self.mark(name)
        try:
            yield
        finally:
            if previous is None:
                self.stop()
            else:
                self.mark(previous)

    def progress(self, say: Progress | None = None) -> Progress:
        """A progress callback that marks a stage at every call and then passes it on."""

        def listen(stage: str) -> None:
            self.mark(stage)
            if say is not None:
                say(stage)

        return listen

    @property
    def total(self) -> float:
        """Seconds of every stage together (the current one up to now)."""
        running = self.clock() - self._since if self._current is not None else 0.0
        return sum(self.spans.values()) + running

    def as_dict(self) -> dict[str, Any]:
        """``{"stages": {name: seconds}, "stages_background": {...}}``, the keys of a
        result's ``environment``."""
        return {
            "stages": {k: round(v, DIGITS) for k, v in self.spans.items()},
            "stages_background": {k: round(v, DIGITS) for k, v in self.background.items()},
        }

    def _close(self, now: float) -> None:
        if self._current is not None:
            self.add(self._current, now - self._since)


def largest(stages: dict[str, float], count: int = 3) -> list[tuple[str, float]]:
    """The ``count`` longest stages, longest first (ties in recorded order)."""
    return sorted(stages.items(), key=lambda item: -item[1])[:count]


def recorded(environment: Any) -> dict[str, float]:
    """The stages a result's ``environment`` records, keeping only names with a number of
    seconds (a result read from a file may hold anything)."""
    stages = environment.get("stages") if isinstance(environment, dict) else None
    if not isinstance(stages, dict):
        return {}
    return {
        str(name): float(seconds)
        for name, seconds in stages.items()
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0
    }


def summary(environment: Any) -> dict[str, Any] | None:
    """``{"total": seconds, "largest": [(stage, seconds), ...]}`` for the scorecard's
    environment section: the whole time and the three longest stages; None without stages."""
    stages = recorded(environment)
    if not stages:
        return None
    return {"total": sum(stages.values()), "largest": largest(stages)}


def profile_lines(name: str, environment: dict[str, Any]) -> list[str]:
    """The lines ``grader grade --profile`` prints for one result: every stage with its
    seconds and share of the total, then the work done alongside."""
    stages = recorded(environment)
    if not stages:
        return [f"{name}: no stage timings recorded"]
    total = sum(stages.values())
    lines = [f"{name}: {total:.1f} s in {len(stages)} stages"]
    width = max(len(k) for k in stages)
    for stage, seconds in stages.items():
        share = seconds / total if total else 0.0
        lines.append(f"  {stage:<{width}}  {seconds:7.2f} s  {share:6.1%}")
    background = environment.get("stages_background") or {}
    for stage, seconds in background.items() if isinstance(background, dict) else ():
        lines.append(f"  (alongside) {stage}: {seconds:.2f} s")
    return lines
