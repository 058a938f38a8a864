"""The training check, end to end in a real sandbox: what it says about correct, leaking,
input-blind, NaN and crashing submissions.

Every submission here is the catalogue's correct base (tests/catalogue/base.py) with one
change made as text, so the change is the only difference from a model that passes.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from grader import assignment as assignments
from grader import kinds, pipeline
from grader.assignment import Assignment
from grader.checks.base import SuiteContext
from grader.config import GraderConfig, TrainingBudget
from grader.intake import extract, load_submission, resolve
from grader.kinds import Trained, language_model
from grader.result import CheckResult, TrainingResult
from grader.sandbox import Sandbox
from grader.training import LEAK
from grader.trusted import LazyReference

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "tests" / "catalogue" / "base.py").read_text(encoding="utf-8")
SHARED = ROOT / ".." / "shared"
PTB_DIR = SHARED / "data" / "ptb"

MODEL_INPUT = "x = self.pos_encoder(self.embedding(src))  # (batch, seq, d_model)"
MODEL_MASK = "x = self.transformer_encoder(x, src_mask)  # (batch, seq, d_model)"
MODEL_OUTPUT = "return self.linear(x)  # (batch, seq, ntoken)"
LOOP_MASK = "full_mask = generate_square_subsequent_mask(window_size).to(device) if use_causal_mask else None\n    num_batches"


def variant(old: str, new: str) -> str:
    """The base submission with one line changed (the line must be there exactly once)."""
    assert BASE.count(old) == 1, f"base.py no longer contains {old!r} exactly once"
    return BASE.replace(old, new)


Graded = tuple[TrainingResult, dict[str, CheckResult]]


def train(
    source: str, tmp_path: Path, config: GraderConfig | None = None, name: str = "sub.py"
) -> Graded:
    """Intake, mask discovery and the training check of one submission, as the pipeline runs
    them (without the property suites, which tests/catalogue covers)."""
    config = config or GraderConfig()
    transformer = assignments.get("transformer_lm")
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return train_path(path, transformer, config)


def train_path(path: Path, transformer: Assignment, config: GraderConfig) -> Graded:
    extracted = extract(load_submission(path), transformer.handout_source())
    resolutions = resolve(extracted, transformer)
    with Sandbox(config.sandbox, device="cpu", seed=config.seed, label=path.stem) as worker:
        report = worker.load(extracted.source)
        assert report.ok, report.error
        trained = lm_hooks(worker, transformer, resolutions, report.symbols, config)
    return trained.result, {c.name.removeprefix("training."): c for c in trained.checks}


def lm_context(
    worker: Sandbox,
    transformer: Assignment,
    resolutions: dict,
    symbols: dict,
    config: GraderConfig,
    reference: LazyReference,
) -> SuiteContext:
    """The language-model task's context, as the pipeline builds it."""
    runs = pipeline.contexts(
        worker, transformer, resolutions, symbols, config, lambda _: None, reference
    )
    return next(r for r in runs if r.task.kind == "lm_training")


def lm_hooks(
    worker: Sandbox, transformer: Assignment, resolutions: dict, symbols: dict, config: GraderConfig
) -> Trained:
    """The language-model kind's prepare (mask discovery, layout) and train hooks."""
    reference = pipeline.reference_for(transformer, config)
    try:
        run = lm_context(worker, transformer, resolutions, symbols, config, reference)
        lm = kinds.get("lm_training")
        lm.prepare(run)
        trained = lm.train(run)
    finally:
        reference.close()
    assert trained is not None
    return trained


def run_of(result: TrainingResult, driver: str):
    return next(r for r in result.runs if r.driver == driver)


def test_the_reference_passes_on_the_synthetic_corpus(tmp_path: Path) -> None:
    result, checks = train(BASE, tmp_path)
    assert result.status == "pass" and result.corpus == "synthetic"
    assert {n: c.status for n, c in checks.items()} == {
        "runs": "pass",
        "loss_decreases": "pass",
        "not_too_good": "pass",
        "candidate_loop": "pass",
        "mask_reaches_model": "pass",
        "targets_aligned": "pass",
        "modes": "pass",
        "gradients_reset": "pass",
        "clipped_before_step": "pass",
    }
    ours, baseline = run_of(result, "reference_loop"), run_of(result, "reference_model")
    # Learned from context: far below the unigram baseline, never below the entropy floor.
    assert result.entropy_floor < ours.val_loss_after < result.baseline_loss - 1.0
    assert ours.steps == GraderConfig().training_budget.steps and len(ours.curve) > 2
    # The baseline is the same architecture on the same loop and data: the curves agree.
    assert abs(ours.val_loss_after - baseline.val_loss_after) < 0.5
    assert ours.ms_per_batch > 0 and baseline.ms_per_batch > 0 and baseline.tokens_per_s > 0
    print(
        f"\nsynthetic: reference loop {ours.val_loss_before:.3f} -> {ours.val_loss_after:.3f}, "
        f"baseline model {baseline.val_loss_after:.3f}; ms/batch candidate {ours.ms_per_batch} reference {baseline.ms_per_batch}"
    )


def test_the_reference_passes_on_penn_treebank(tmp_path: Path) -> None:
    if not (PTB_DIR / "ptb.valid.txt").is_file():
        pytest.skip(f"no Penn Treebank in {PTB_DIR.resolve()} (../shared is not present)")
    config = GraderConfig(data_dir=str(PTB_DIR), splits=("valid", "test"))
    result, checks = train(BASE, tmp_path, config)
    assert result.corpus.startswith("ptb") and result.splits == ("valid", "test")
    assert checks["loss_decreases"].status == "pass" and checks["not_too_good"].status == "pass"
    ours = run_of(result, "reference_loop")
    assert ours.val_loss_after < ours.val_loss_before - 1.0  # from ~log(vocab) = 9.1 nats
    assert math.isfinite(result.baseline_loss) and result.entropy_floor is None


def test_a_model_with_the_mask_removed_is_flagged_leaking(tmp_path: Path) -> None:
    result, checks = train(variant(MODEL_MASK, "x = self.transformer_encoder(x, None)"), tmp_path)
    assert checks["not_too_good"].status == "fail"
    assert LEAK in checks["not_too_good"].message
    assert "position" in checks["not_too_good"].message  # which prediction moved
    assert result.status == "fail"


def test_a_model_that_ignores_its_input_did_not_go_down(tmp_path: Path) -> None:
    blind = "x = self.pos_encoder(self.embedding(torch.zeros_like(src)))  # input unused"
    result, checks = train(variant(MODEL_INPUT, blind), tmp_path)
    check = checks["loss_decreases"]
    assert check.status == "fail"
    assert "did not go down" in check.message and "ignores its input" in check.message
    assert run_of(result, "reference_model").val_loss_after < result.baseline_loss - 1.0


def test_a_training_loop_that_drops_the_mask_is_caught(tmp_path: Path) -> None:
    _, checks = train(
        variant(LOOP_MASK, "full_mask = None  # train() never masks\n    num_batches"), tmp_path
    )
    check = checks["mask_reaches_model"]
    assert check.status == "fail"
    assert "no mask was passed" in check.message and "copy the next token" in check.message
    assert checks["loss_decreases"].status == "pass"  # the model is fine; the loop is not


def test_a_model_returning_nan_is_caught(tmp_path: Path) -> None:
    result, checks = train(variant(MODEL_OUTPUT, "return self.linear(x) * float('nan')"), tmp_path)
    assert checks["loss_decreases"].status == "fail"
    assert "NaN" in checks["loss_decreases"].message
    assert result.status == "fail"


def test_a_run_cut_by_its_time_limit_still_reports_what_it_measured(tmp_path: Path) -> None:
    # 100 000 steps cannot finish in 12 s: the run stops at the limit with its curve so far.
    # (12 s, not less: the limit also covers the first evaluation, and a loaded CI machine
    # must still fit a few steps in.)
    config = GraderConfig(
        training_override=TrainingBudget(steps=100_000, eval_every=5, eval_windows=2, timeout_s=12)
    )
    result, _ = train(BASE, tmp_path, config)
    ours = run_of(result, "reference_loop")
    assert 0 < ours.steps < 100_000 and len(ours.curve) >= 2
    assert (
        "stopped by the 12 s limit" in ours.message
        and f"after {ours.steps} of 100000 steps" in ours.message
    )
    assert ours.val_loss_after is not None and math.isfinite(ours.val_loss_after)


TARGETS = "targets = source[i + 1 : i + 1 + seq_len].t().reshape(-1)  # (batch * seq,)"
TRAIN_MASK = "output = model(data, window_mask(full_mask, data.size(1)))"


def first_changed(change: tuple[str, str] | None) -> str:
    """The base submission with the first occurrence of ``change[0]`` replaced (in train(),
    which comes before evaluate()); the base itself for None."""
    if change is None:
        return BASE
    assert change[0] in BASE, f"base.py no longer contains {change[0]!r}"
    return BASE.replace(*change, 1)


def loop_checks(source: str, tmp_path: Path) -> dict[str, CheckResult]:
    """``training.targets_aligned`` and ``training.modes`` alone: their train() and
    evaluate() on the probe stream."""
    transformer = assignments.get("transformer_lm")
    path = tmp_path / "sub.py"
    path.write_text(source, encoding="utf-8")
    extracted = extract(load_submission(path), transformer.handout_source())
    resolutions = resolve(extracted, transformer)
    config = GraderConfig()
    with Sandbox(config.sandbox, device="cpu", seed=0, label="targets") as worker:
        report = worker.load(extracted.source)
        assert report.ok, report.error
        reference = pipeline.reference_for(transformer, config)
        run = lm_context(worker, transformer, resolutions, report.symbols, config, reference)
        model, train_fn = run.symbol, run.part("train")
        assert model is not None and train_fn is not None
        checks = language_model.loop_checks(run, model, train_fn)
    return {c.name.removeprefix("training."): c for c in checks}


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        (None, "pass", "every target is the token after the input"),
        ((TARGETS, "targets = source[i : i + seq_len].t().reshape(-1)"), "fail", "themselves"),
        ((TARGETS, "targets = source[i + 1 : i + 1 + seq_len].reshape(-1)"), "fail", "order"),
        ((TRAIN_MASK, "output = model(data, full_mask)"), "fail", "shorter than bptt"),
    ],
    ids=["correct", "unshifted", "seq-first-targets", "full-mask-on-last-window"],
)
def test_the_loops_targets_are_checked_against_the_next_tokens(
    change: tuple[str, str] | None, status: str, words: str, tmp_path: Path
) -> None:
    check = loop_checks(first_changed(change), tmp_path)["targets_aligned"]
    assert (check.status, words in check.message) == (status, True), check.message


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        (None, "pass", "training mode in train() and in eval mode in evaluate()"),
        (("    model.train()\n", "    model.eval()\n"), "fail", "train() runs the model in eval"),
        (
            ("    model.eval()\n", "    model.train()\n"),
            "fail",
            "evaluate() runs the model in training",
        ),
        (
            ("        optimizer.step()\n", "        optimizer.step()\n        scheduler.step()\n"),
            "fail",
            "scheduler 3 times",
        ),
    ],
    ids=["correct", "eval-in-train", "train-in-evaluate", "scheduler-per-batch"],
)
def test_the_model_mode_in_their_train_and_evaluate_is_checked(
    change: tuple[str, str] | None, status: str, words: str, tmp_path: Path
) -> None:
    check = loop_checks(first_changed(change), tmp_path)["modes"]
    assert (check.status, words in check.message) == (status, True), check.message


@pytest.mark.parametrize("suffix", [".txt", ".ipynb"])
def test_seed_004_gets_the_crash_diagnosis(suffix: str) -> None:
    seeds = sorted((SHARED / "seeds").glob(f"004_*{suffix}"))
    if not seeds:
        pytest.skip(f"seed 004{suffix} not found in {(SHARED / 'seeds').resolve()}")
    _result, checks = train_path(seeds[0], assignments.get("transformer_lm"), GraderConfig())
    loop = checks["candidate_loop"]
    assert loop.status == "error"
    assert "size of tensor a (35) must match" in loop.message
    assert "(seq, batch)" in loop.message and "batch-first" in loop.message
    # The model itself is fine on the grader's loop: the crash is the loop's, not the model's.
    assert checks["runs"].status == "pass"
