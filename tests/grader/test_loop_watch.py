"""Verdicts on a candidate's own training loop from the steps the worker's watch recorded."""

from __future__ import annotations

from grader import loop_watch


def steps(*norms: float, stale: bool = False) -> list[dict[str, object]]:
    return [{"backwards": 1, "stale": stale, "grad_norm": n} for n in norms]


def test_a_loop_that_resets_its_gradients_passes() -> None:
    status, message, _ = loop_watch.gradients_reset(steps(0.4, 0.3, 0.2), "train")
    assert status == "pass", message


def test_accumulated_gradients_are_named() -> None:
    status, message, facts = loop_watch.gradients_reset(steps(0.4, 0.3, stale=True), "train")
    assert status == "fail" and "zero_grad()" in message
    assert facts == {"steps_with_stale_gradients": 1, "steps_watched": 1}


def test_zero_grad_between_backward_and_step_is_named() -> None:
    """Zeroed after backward: nothing is stale, but every step sees a gradient of norm 0."""
    status, message, facts = loop_watch.gradients_reset(steps(0.0, 0.0, 0.0), "train")
    assert status == "fail"
    assert (
        "gradients are zero" in message
        and "between loss.backward() and optimizer.step()" in message
    )
    assert facts == {"steps_with_zero_gradients": 3, "steps_watched": 3}


def test_one_step_with_a_zero_gradient_is_not_the_bug() -> None:
    status, _, _ = loop_watch.gradients_reset(steps(0.0, 0.3, 0.2), "train")
    assert status == "pass"
