"""Stage timings: consecutive spans that add up to the whole, the summary the scorecard shows,
and the lines `grader grade --profile` prints."""

from __future__ import annotations

import pytest

from grader.stages import Stages, largest, profile_lines, recorded, summary


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_progress_call_ends_the_stage_before_it_and_the_stages_add_up() -> None:
    clock = Clock()
    stages = Stages(clock)
    heard: list[str] = []
    say = stages.progress(heard.append)
    say("reading")
    clock.now += 1.5
    say("checking attention")
    clock.now += 2.25
    say("reading")  # a stage seen again adds to its first entry
    clock.now += 0.5
    stages.stop()
    clock.now += 10  # after stop nothing counts
    assert heard == ["reading", "checking attention", "reading"]
    assert stages.spans == {"reading": 2.0, "checking attention": 2.25}
    assert stages.total == pytest.approx(4.25)
    assert list(stages.as_dict()["stages"]) == ["reading", "checking attention"]


def test_a_span_runs_inside_the_current_stage_and_resumes_it() -> None:
    clock = Clock()
    stages = Stages(clock)
    stages.mark("training")
    clock.now += 1
    with stages.span("the baseline"):
        clock.now += 3
    clock.now += 2
    stages.stop()
    assert stages.spans == {"training": 3.0, "the baseline": 3.0}


def test_work_done_alongside_is_kept_apart_from_the_sum() -> None:
    stages = Stages(Clock())
    stages.add("process start", 1.25)
    stages.add("worker start", 4.0, background=True)
    data = stages.as_dict()
    assert data == {"stages": {"process start": 1.25}, "stages_background": {"worker start": 4.0}}
    assert stages.total == 1.25


def test_the_scorecard_summary_is_the_total_and_the_three_longest_stages() -> None:
    environment = {"stages": {"a": 1.0, "b": 5.0, "c": 0.5, "d": 3.0, "e": 4.0}}
    assert summary(environment) == {
        "total": 13.5,
        "largest": [("b", 5.0), ("e", 4.0), ("d", 3.0)],
    }
    assert largest({"x": 1.0, "y": 1.0}, 1) == [("x", 1.0)]  # ties: the first recorded


@pytest.mark.parametrize(
    "environment",
    [{}, {"stages": "fast"}, {"stages": {}}, {"stages": {"a": "1", "b": True, "c": -2}}, []],
)
def test_malformed_or_missing_stages_give_no_summary_and_no_crash(environment: object) -> None:
    assert summary(environment) is None
    assert profile_lines("alice", environment) == ["alice: no stage timings recorded"]  # type: ignore[arg-type]


def test_only_numeric_stages_are_read_from_a_result() -> None:
    assert recorded({"stages": {"a": 1, "b": "x", "c": 2.5}}) == {"a": 1.0, "c": 2.5}


def test_the_profile_lists_every_stage_with_its_share() -> None:
    environment = {
        "stages": {"reading": 1.0, "training": 3.0},
        "stages_background": {"starting the sandbox": 2.0},
    }
    lines = profile_lines("alice", environment)
    assert lines[0] == "alice: 4.0 s in 2 stages"
    assert "reading" in lines[1] and "1.00 s" in lines[1] and "25.0%" in lines[1]
    assert "training" in lines[2] and "75.0%" in lines[2]
    assert lines[3] == "  (alongside) starting the sandbox: 2.00 s"
