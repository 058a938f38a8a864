"""The positional-encoding test's training check (grader/positional.py) and the dummy-data
signal check (grader/dummy_data.py), on real workers.

(Named test_positional_training.py: tests/reference/test_positional.py already takes the
module name test_positional, and neither folder is a package.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from positional_variants import POSITION_BUGS

from grader import assignment as assignments
from grader import dummy_data, positional
from grader.config import GraderConfig
from grader.intake import extract, load_submission
from grader.result import CheckResult, TrainingResult
from grader.sandbox import LoadReport, Sandbox
from reference.positional_task import make_dummy_task

VARIANTS = (
    POSITION_BUGS
    + '''

class NaNModel(SelfAttentionModel):
    """Predictions that are NaN."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) * float("nan")


class CrashModel(SelfAttentionModel):
    """A forward pass that raises."""

    def forward(self, x: Tensor) -> Tensor:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")


def signal_data(n_samples: int, seq_len: int, d_model: int) -> tuple[Tensor, Tensor]:
    """Targets read position 1: a learnable dependence on position."""
    x = torch.randn(n_samples, seq_len, d_model)
    return x, x[:, 1].sum(dim=-1, keepdim=True)


def dataset_data(dim: int, length: int, num_samples: int = 64) -> TensorDataset:
    """Another container and other names: a TensorDataset of (x, y) where y depends on x."""
    x = torch.randn(num_samples, length, dim)
    return TensorDataset(x, (x[:, 0, 0] > 0).float())


def noise_data(batch_size: int, seq_len: int, d_model: int) -> tuple[Tensor, Tensor]:
    """Targets drawn independently of the inputs."""
    return torch.randn(batch_size, seq_len, d_model), torch.randn(batch_size, 1)
'''
)

Run = tuple[TrainingResult, dict[str, CheckResult]]


def train(worker: Sandbox, report: LoadReport, model: str | None = None) -> Run:
    """The training check as the pipeline runs it, for the model class ``model``."""
    task = assignments.get("positional_encoding").task("training")
    result, checks = positional.run_training(
        worker,
        task.id,
        task.options,
        report.symbols,
        GraderConfig(),
        model=model,
        looked_for=task.symbols,
    )
    return result, {c.name: c for c in checks}


@pytest.fixture(scope="module")
def loaded(positional_reference_source: str) -> Iterator[tuple[Sandbox, LoadReport]]:
    """One worker holding the reference's answer and the variants above."""
    source = positional_reference_source + "from torch.utils.data import TensorDataset\n" + VARIANTS
    with Sandbox(GraderConfig().sandbox, label="positional-training") as worker:
        report = worker.load(source)
        assert report.ok, report.error
        yield worker, report


@pytest.mark.slow  # a full training run
def test_the_reference_learns_the_task_and_its_data_has_signal(
    loaded: tuple[Sandbox, LoadReport],
) -> None:
    result, checks = train(*loaded)
    assert {name: c.status for name, c in checks.items()} == {
        "training.runs": "pass",
        "training.learns_positions": "pass",
        "training.dummy_data_signal": "pass",
    }
    (run,) = result.runs
    assert result.status == "pass" and run.driver == "reference_loop"
    assert run.val_loss_after < 0.5 * result.baseline_loss < run.val_loss_before
    assert (
        "position-blind model" in run.message
        and "make_dummy_task" in checks["training.dummy_data_signal"].message
    )


@pytest.mark.slow  # a full training run
def test_a_model_without_positions_is_no_better_than_the_mean(
    loaded: tuple[Sandbox, LoadReport],
) -> None:
    result, checks = train(*loaded, model="BlindModel")
    assert checks["training.runs"].status == "pass"
    learns = checks["training.learns_positions"]
    assert learns.status == "fail" and result.status == "fail"
    assert "no better than predicting the mean" in learns.message


def train_only(loaded: tuple[Sandbox, LoadReport], model: str) -> dict[str, CheckResult]:
    """Our loop alone on ``model`` (no dummy-data check), for runs that end early."""
    worker, report = loaded
    opts = assignments.get("positional_encoding").task("training").options
    task = make_dummy_task(
        0, opts.seq_len, opts.d_model, opts.n_train, opts.n_val, opts.target_position
    )
    run = positional.train_and_measure(
        worker, model, report.symbols, task, opts, 100, 1.2, GraderConfig()
    )
    return {c.name: c for c in positional.checks_from_run("training", run, model)}


def test_one_prediction_per_position_is_refused_with_the_shape(
    loaded: tuple[Sandbox, LoadReport],
) -> None:
    checks = train_only(loaded, "PerPositionModel")
    assert (
        checks["training.runs"].status == "error"
        and checks["training.learns_positions"].status == "error"
    )
    assert (
        "(512, 8, 1)" in checks["training.runs"].message
        and "one prediction per sequence" in checks["training.runs"].message
    )


def test_nan_predictions_fail_as_nan(loaded: tuple[Sandbox, LoadReport]) -> None:
    checks = train_only(loaded, "NaNModel")
    assert checks["training.learns_positions"].status == "fail"
    assert "NaN" in checks["training.learns_positions"].message


def test_a_crash_is_an_error_with_the_candidates_message(
    loaded: tuple[Sandbox, LoadReport],
) -> None:
    checks = train_only(loaded, "CrashModel")
    assert checks["training.runs"].status == "error"
    assert "mat1 and mat2 shapes cannot be multiplied" in checks["training.runs"].message


# --- the dummy-data signal -------------------------------------------------------------------


def data_check(loaded: tuple[Sandbox, LoadReport], function: str | None) -> CheckResult:
    worker, report = loaded
    params = report.symbols[function].params if function else None
    sizes = {"n_samples": dummy_data.PER_CALL, "max_len": 8, "d_model": 16}
    return dummy_data.check(
        worker, "training", function, params, sizes, seed=0, looked_for=("create_dummy_data",)
    )


@pytest.mark.parametrize("function", ["signal_data", "dataset_data"])
def test_data_whose_targets_depend_on_the_inputs_passes(
    loaded: tuple[Sandbox, LoadReport], function: str
) -> None:
    result = data_check(loaded, function)
    assert result.status == "pass", result.message
    assert result.name == "training.dummy_data_signal" and result.examples >= 2


def test_targets_independent_of_the_inputs_fail(loaded: tuple[Sandbox, LoadReport]) -> None:
    result = data_check(loaded, "noise_data")
    assert result.status == "fail"
    assert "do not depend on the inputs" in result.message and "learn y's mean" in result.message
    assert result.counterexample["heldout_r2"] <= result.counterexample["needed"]


def test_no_data_function_fails_and_says_what_was_looked_for(
    loaded: tuple[Sandbox, LoadReport],
) -> None:
    result = data_check(loaded, None)
    assert result.status == "fail" and "create_dummy_data" in result.message


@pytest.mark.slow  # its own worker and a full training run
def test_seed_000_model_learns_but_its_dummy_data_has_no_signal(seed_000: Path) -> None:
    positional_test = assignments.get("positional_encoding")
    extracted = extract(load_submission(seed_000), positional_test.handout_source())
    with Sandbox(GraderConfig().sandbox, label="seed-000") as worker:
        report = worker.load(extracted.source)
        assert report.ok, report.error
        _, checks = train(worker, report)
    assert checks["training.runs"].status == "pass"
    assert checks["training.learns_positions"].status == "pass", checks[
        "training.learns_positions"
    ].message
    signal = checks["training.dummy_data_signal"]
    assert signal.status == "fail"
    assert "create_dummy_data" in signal.message and "do not depend on the inputs" in signal.message


# --- the verdicts and the measurement, without a worker ----------------------------------------


@pytest.mark.parametrize(
    ("after", "status", "words"),
    [
        (0.1, "pass", "learned to use positions"),
        (0.8, "fail", "barely uses positions"),
        (1.05, "fail", "no better than predicting the mean"),
        (float("nan"), "fail", "NaN"),
    ],
)
def test_verdict(after: float, status: str, words: str) -> None:
    got, message = positional.verdict(1.1, after, baseline=1.0, blind=1.2, min_gain=0.5)
    assert got == status and words in message


def test_measure_tells_a_dependence_from_noise() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(600, 8, 16, generator=generator)  # (n, seq, d_model)
    noise = dummy_data.measure(x, torch.randn(600, generator=generator), seed=0)
    squared = dummy_data.measure(
        x, x[:, 5, 3] ** 2, seed=0
    )  # a non-linear, position-dependent target
    assert not noise.has_signal and noise.r2 < dummy_data.MARGIN
    assert squared.has_signal and squared.r2 > 0.9 and squared.blind_r2 < 0.5
