"""The training curve as an inline SVG: every coordinate is computed here, in Python.

The scorecard is emailed and archived, so the plot cannot depend on a charting library
loaded at view time. This module turns a `TrainingRun` into a `CurvePlot` (polyline
coordinates, axis ticks, dashed reference lines, legend entries) and the template
``_curve.svg.j2`` only writes those numbers into SVG elements.

SVG's y axis points down, so a loss ``v`` sits at ``top + (y_max - v) / (y_max - y_min) * height``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from grader.result import TrainingResult, TrainingRun

# Canvas and margins in SVG user units; the SVG scales to the page width with its viewBox.
WIDTH, HEIGHT = 680.0, 300.0
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 58.0, 180.0, 14.0, 44.0


@dataclass(frozen=True)
class Tick:
    """One labelled tick on an axis."""

    pos: float
    """Position along the axis, in SVG units."""
    label: str


@dataclass(frozen=True)
class Marker:
    """One measured point, drawn as a dot with a tooltip."""

    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    """One loss curve: a polyline through its finite points."""

    name: str
    css: str
    """Class of the polyline and its legend swatch (``val`` or ``train``)."""
    points: str
    """``"x1,y1 x2,y2 ..."``, the polyline's ``points`` attribute."""
    markers: tuple[Marker, ...]


@dataclass(frozen=True)
class RefLine:
    """A dashed horizontal reference: the unigram baseline or the entropy floor."""

    name: str
    css: str
    y: float
    value: float


@dataclass(frozen=True)
class LossTerms:
    """How a training check's losses read: the unit and the name of the no-skill baseline."""

    unit: str
    """The loss's unit, for the axis and the tables (``nats/token``, ``MSE``)."""
    baseline: str
    """Name of the dashed baseline line."""
    baseline_note: str
    """What the baseline means, in a few words."""


LANGUAGE_MODEL_TERMS = LossTerms("nats/token", "unigram baseline", "the best guess without context")
REGRESSION_TERMS = LossTerms(
    "MSE", "predict-the-mean baseline", "the error of always predicting the targets' mean"
)


def loss_terms(corpus: str) -> LossTerms:
    """The terms for a training check on ``corpus`` (the positional dummy task is a regression)."""
    return REGRESSION_TERMS if corpus.startswith("positional") else LANGUAGE_MODEL_TERMS


@dataclass(frozen=True)
class CurvePlot:
    """Everything the SVG template draws for one training run."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    series: tuple[Series, ...]
    ref_lines: tuple[RefLine, ...]
    dropped: int
    """Points left out because the loss was NaN or infinite (said under the plot)."""
    title: str
    y_label: str = "loss (nats/token)"


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering ``[lo, hi]``: steps of 1, 2 or 5 times a power of ten,
    so the labels read like a hand-drawn axis (3.0, 3.5, 4.0 rather than 3.07, 3.61, ...)."""
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    n = round((last - first) / step)
    return [round(first + i * step, 10) for i in range(n + 1)]


def loss_range(training: TrainingResult) -> tuple[float, float] | None:
    """The loss range shared by every run of a training check, so their plots compare at a
    glance; None when no run has a finite loss to draw."""
    values = [v for run in training.runs for v in _losses(run)]
    values += [v for v in (training.baseline_loss, training.entropy_floor) if _finite(v)]
    if not values:
        return None
    return min(values), max(values)


def curve_plot(
    run: TrainingRun,
    baseline: float | None = None,
    floor: float | None = None,
    y_range: tuple[float, float] | None = None,
    reference: TrainingRun | None = None,
    terms: LossTerms = LANGUAGE_MODEL_TERMS,
) -> CurvePlot | None:
    """Lay out the plot of one run's validation and training loss per step, with the baseline
    and the entropy floor as dashed lines, and the reference model's validation loss on the
    same loop when ``reference`` is given. None when the run recorded no finite point."""
    steps = [p.step for p in run.curve if _finite(p.val_loss) or _finite(p.train_loss)]
    if not steps:
        return None
    refs = [
        (n, css, v)
        for n, css, v in (
            (terms.baseline, "baseline", baseline),
            ("entropy floor", "floor", floor),
        )
        if _finite(v)
    ]
    losses = [*_losses(run), *(_losses(reference) if reference else ()), *(v for _, _, v in refs)]
    lo, hi = y_range or (min(losses), max(losses))
    # The axes start at step 0 (the untrained model) and end on round ticks past the data.
    axes = _Axes(nice_ticks(min(0, *steps), max(1, *steps)), nice_ticks(lo, hi))
    series = [
        s
        for s in (
            _series(run, "val_loss", "validation loss", "val", axes),
            _series(run, "train_loss", "training loss", "train", axes),
            _series(reference, "val_loss", "reference model", "refmodel", axes)
            if reference
            else None,
        )
        if s is not None
    ]
    dropped = sum(
        1 for p in run.curve for v in (p.val_loss, p.train_loss) if v is not None and not _finite(v)
    )
    return CurvePlot(
        width=WIDTH,
        height=HEIGHT,
        left=axes.left,
        right=axes.right,
        top=axes.top,
        bottom=axes.bottom,
        x_ticks=tuple(Tick(axes.x(v), _label(v)) for v in axes.x_values),
        y_ticks=tuple(Tick(axes.y(v), _label(v)) for v in axes.y_values),
        series=tuple(series),
        ref_lines=tuple(RefLine(name, css, axes.y(v), v) for name, css, v in refs),
        dropped=dropped,
        title=f"Loss per step, {run.driver.replace('_', ' ')}",
        y_label=f"loss ({terms.unit})",
    )


@dataclass(frozen=True)
class _Axes:
    """Maps (step, loss) to SVG coordinates inside the margins; the tick values bound it."""

    x_values: list[float]
    y_values: list[float]
    left: float = MARGIN_LEFT
    right: float = WIDTH - MARGIN_RIGHT
    top: float = MARGIN_TOP
    bottom: float = HEIGHT - MARGIN_BOTTOM

    def x(self, step: float) -> float:
        lo, hi = self.x_values[0], self.x_values[-1]
        return round(self.left + (step - lo) / (hi - lo) * (self.right - self.left), 1)

    def y(self, loss: float) -> float:
        lo, hi = self.y_values[0], self.y_values[-1]
        return round(self.top + (hi - loss) / (hi - lo) * (self.bottom - self.top), 1)


def _series(run: TrainingRun, attr: str, name: str, css: str, axes: _Axes) -> Series | None:
    """One curve through the run's finite values of ``attr`` (a `CurvePoint` field)."""
    measured = [(p.step, getattr(p, attr)) for p in run.curve]
    finite = [(step, loss) for step, loss in measured if _finite(loss)]
    if not finite:
        return None
    markers = tuple(
        Marker(axes.x(step), axes.y(loss), f"step {step}: {name} {loss:.3f}")
        for step, loss in finite
    )
    return Series(name, css, " ".join(f"{m.x},{m.y}" for m in markers), markers)


def _losses(run: TrainingRun) -> Iterable[float]:
    for p in run.curve:
        for v in (p.val_loss, p.train_loss):
            if _finite(v):
                yield v


def _finite(value: float | None) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _label(value: float) -> str:
    """Tick labels without float noise: 150 not 150.0, 0.25 not 0.25000000001."""
    return f"{value:g}"
