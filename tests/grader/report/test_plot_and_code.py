"""The two computations behind the scorecard's pictures: the plot's geometry and the code's
line split."""

from __future__ import annotations

import itertools
import math

import pytest

from grader.report.highlight import highlight_lines, source_lines
from grader.report.plot import curve_plot, loss_range, nice_ticks
from grader.result import CurvePoint, SubmissionResult, TrainingRun


@pytest.mark.parametrize(
    ("lo", "hi"), [(2.02, 4.16), (0, 150), (0, 120), (0.001, 0.0013), (5.0, 5.0), (-3, 7)]
)
def test_nice_ticks_cover_the_range_in_round_steps(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi
    steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    (step,) = steps
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)
    assert 2 <= len(ticks) <= 12


def test_lower_loss_is_drawn_lower_and_axes_match_the_data() -> None:
    run = TrainingRun(
        "reference_loop",
        "pass",
        "",
        curve=(CurvePoint(0, None, 4.0), CurvePoint(50, 3.5, 3.0), CurvePoint(100, 2.6, 2.5)),
    )
    plot = curve_plot(run, baseline=4.2, floor=2.2)
    val, train = plot.series
    assert (val.name, train.name) == ("validation loss", "training loss")
    ys = [m.y for m in val.markers]
    assert ys == sorted(ys)  # SVG y grows downwards: a falling loss goes down the page
    assert val.markers[0].x == plot.left and val.markers[-1].x == plot.right
    assert len(train.markers) == 2  # the step without a training loss is not drawn
    baseline, floor = plot.ref_lines
    assert baseline.y < val.markers[0].y and floor.y > val.markers[-1].y
    assert all(plot.top <= t.pos <= plot.bottom for t in plot.y_ticks)
    assert [t.label for t in plot.x_ticks] == ["0", "20", "40", "60", "80", "100"]


def test_non_finite_points_are_counted_not_drawn() -> None:
    run = TrainingRun(
        "reference_loop",
        "fail",
        "",
        curve=(
            CurvePoint(0, None, 4.0),
            CurvePoint(10, float("nan"), float("inf")),
            CurvePoint(20, 3.0, 3.5),
        ),
    )
    plot = curve_plot(run)
    assert plot.dropped == 2
    assert [len(s.markers) for s in plot.series] == [2, 1]
    assert (
        curve_plot(
            TrainingRun("reference_loop", "error", "", curve=(CurvePoint(0, float("nan"), None),))
        )
        is None
    )


def test_runs_of_one_training_share_the_loss_axis(graded: SubmissionResult) -> None:
    training = graded.training
    shared = loss_range(training)
    plots = [
        curve_plot(r, training.baseline_loss, training.entropy_floor, shared) for r in training.runs
    ]
    assert plots[0].y_ticks == plots[1].y_ticks
    assert shared[0] <= 2.02 and shared[1] >= 4.16


def test_lines_are_numbered_as_python_counts_them() -> None:
    source = (
        '\n\ndef f():\r\n    """A docstring\n    over two lines."""\r\treturn 1  # tab\n\nx = f()'
    )
    lines = highlight_lines(source, candidate_lines=(3, 4))
    assert [line.number for line in lines] == list(range(1, 9))
    assert ["".join(text for _, text in line.pieces) for line in lines] == source_lines(source)
    assert source_lines(source)[5] == "\treturn 1  # tab"
    assert [line.candidate for line in lines] == [n in (3, 4) for n in range(1, 9)]
    assert ("k", "def") in lines[2].pieces
    assert all(
        css == "sd" for css, _ in lines[4].pieces if css not in ("", "w")
    )  # still the docstring


def test_no_candidate_lines_means_nothing_greyed_and_findings_land_on_their_line() -> None:
    lines = highlight_lines("a = 1\nb = 2\n", findings_by_line={2: (1, 3)})
    assert len(lines) == 2 and all(line.candidate for line in lines)
    assert lines[1].findings == (1, 3) and lines[0].findings == ()
    assert highlight_lines("") == []
