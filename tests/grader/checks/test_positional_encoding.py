"""The positional-encoding and self-attention-model suites, on real workers.

Two workers serve the module: one loads the reference's answer (through intake, as a
submission) with correct and buggy variants appended under their own names; the other
loads seed 000, the real Markdown answer. Each suite runs once per class in a module
fixture; the tests read the verdicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from positional_variants import POSITION_BUGS

from grader import assignment as assignments
from grader import kinds
from grader.checks.base import SuiteContext
from grader.checks.binding import bind
from grader.config import GraderConfig
from grader.intake import extract, load_submission, resolve
from grader.pipeline import run_checks
from grader.result import CheckResult
from grader.sandbox import ParamInfo, Sandbox

ENCODING_CHECKS = (
    "learnable",
    "receives_gradients",
    "shape_kept",
    "same_across_batch",
    "differs_by_position",
    "all_lengths",
)
MODEL_CHECKS = ("output_shape", "uses_positions")

CORRECT_ENCODINGS = '''

class EmbeddingEncoding(nn.Module):
    """Correct, another style: nn.Embedding over position ids, d_model first, dropout."""

    def __init__(self, d_model: int, max_len: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.positions = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        ids = torch.arange(x.size(1), device=x.device)
        return self.dropout(x + self.positions(ids))


class ZeroInitEncoding(nn.Module):
    """Correct: a table initialised to zeros (the same at every position until trained)."""

    def __init__(self, num_positions: int, embed_dim: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(1, num_positions, embed_dim))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.table[:, : x.size(1)]
'''

BUGGY_ENCODINGS = (
    '''

class BufferEncoding(nn.Module):
    """Bug: the table is a buffer, so it is never trained."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.register_buffer("table", torch.randn(max_len, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.table[: x.size(1)]


class BatchAxisEncoding(nn.Module):
    """Bug: a seq-first (max_len, 1, d_model) table on batch-first input, indexed by x.size(0)."""

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        self.pe = nn.Parameter(torch.randn(max_len, 1, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.pe[: x.size(0)]


class ConstantEncoding(nn.Module):
    """Bug: one learnable vector added at every position."""

    def __init__(self, seq_len: int, d_model: int) -> None:
        super().__init__()
        self.pe = nn.Parameter(torch.randn(1, 1, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.pe


'''
    + POSITION_BUGS
)

CATCHES = {
    "BufferEncoding": "positional_encoding.learnable",
    "BatchAxisEncoding": "positional_encoding.same_across_batch",
    "ConstantEncoding": "positional_encoding.differs_by_position",
    "BlindModel": "self_attention_model.uses_positions",
    "PerPositionModel": "self_attention_model.output_shape",
}
"""Each buggy class and the check named for its bug."""

Verdicts = dict[str, dict[str, CheckResult]]
"""Class graded -> check name -> result."""


def suite_results(
    worker: Sandbox, task_id: str, symbol: str, symbols: dict, config: GraderConfig
) -> dict[str, CheckResult]:
    """One task's suite on the class ``symbol`` of the loaded submission."""
    task = assignments.get("positional_encoding").task(task_id)
    ctx = SuiteContext(worker, task, symbol, config, shared={"symbols": symbols})
    return {r.name: r for r in kinds.get(task.kind).check(ctx)}


def graded(path: Path, extra_classes: dict[str, str]) -> Verdicts:
    """Grade the submission at ``path`` through intake and the pipeline's suites (no training),
    then run the suite of each of ``extra_classes`` (class -> task id) in the same worker."""
    positional = assignments.get("positional_encoding")
    config = GraderConfig()
    extracted = extract(load_submission(path), positional.handout_source())
    resolutions = resolve(extracted, positional)
    with Sandbox(config.sandbox, seed=config.seed, label=path.stem) as worker:
        report = worker.load(extracted.source)
        assert report.ok, report.error
        checks = run_checks(
            worker,
            replace(
                positional, tasks=tuple(t for t in positional.tasks if not kinds.get(t.kind).trains)
            ),
            resolutions,
            report.symbols,
            config,
            lambda _: None,
        ).results
        verdicts = {"submission": {r.name: r for results in checks.values() for r in results}}
        for symbol, task_id in extra_classes.items():
            verdicts[symbol] = suite_results(worker, task_id, symbol, report.symbols, config)
    return verdicts


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, positional_reference_source: str
) -> Iterator[Verdicts]:
    path = tmp_path_factory.mktemp("positional") / "reference_answer.py"
    path.write_text(
        positional_reference_source + CORRECT_ENCODINGS + BUGGY_ENCODINGS, encoding="utf-8"
    )
    extra = {"EmbeddingEncoding": "positional_encoding", "ZeroInitEncoding": "positional_encoding"}
    extra |= {name: check.split(".")[0] for name, check in CATCHES.items()}
    yield graded(path, extra)


@pytest.fixture(scope="module")
def seed(seed_000: Path) -> Verdicts:
    return graded(seed_000, {})


def statuses(results: dict[str, CheckResult]) -> dict[str, str]:
    return {name: r.status for name, r in results.items()}


def test_the_reference_passes_every_check(reference: Verdicts) -> None:
    expected = {f"positional_encoding.{c}" for c in ENCODING_CHECKS} | {
        f"self_attention_model.{c}" for c in MODEL_CHECKS
    }
    results = reference["submission"]
    assert set(results) == expected
    assert statuses(results) == dict.fromkeys(expected, "pass"), [
        r.message for r in results.values() if not r.passed
    ]


@pytest.mark.parametrize("name", ["EmbeddingEncoding", "ZeroInitEncoding"])
def test_correct_encodings_in_other_styles_pass(reference: Verdicts, name: str) -> None:
    results = reference[name]
    assert statuses(results) == {f"positional_encoding.{c}": "pass" for c in ENCODING_CHECKS}, [
        r.message for r in results.values()
    ]


@pytest.mark.parametrize("name", sorted(CATCHES))
def test_each_bug_is_caught_by_the_check_named_for_it(reference: Verdicts, name: str) -> None:
    result = reference[name][CATCHES[name]]
    assert result.status == "fail", result.message
    assert result.counterexample, "a failure shows its counterexample"


def test_the_messages_name_the_cause(reference: Verdicts) -> None:
    assert "buffer" in reference["BufferEncoding"]["positional_encoding.learnable"].message
    assert (
        "batch axis"
        in reference["BatchAxisEncoding"]["positional_encoding.same_across_batch"].message
    )
    assert (
        "every position"
        in reference["ConstantEncoding"]["positional_encoding.differs_by_position"].message
    )
    assert (
        "one prediction per sequence"
        in reference["PerPositionModel"]["self_attention_model.output_shape"].message
    )
    assert (
        "ignores positions"
        in reference["BlindModel"]["self_attention_model.uses_positions"].message
    )


@pytest.mark.slow  # a second worker
def test_seed_000_is_learnable_but_works_for_one_length_only(seed: Verdicts) -> None:
    results = statuses(seed["submission"])
    for check in (
        "learnable",
        "receives_gradients",
        "shape_kept",
        "same_across_batch",
        "differs_by_position",
    ):
        assert results[f"positional_encoding.{check}"] == "pass", seed["submission"][
            f"positional_encoding.{check}"
        ].message
    lengths = seed["submission"]["positional_encoding.all_lengths"]
    assert lengths.status == "fail"
    assert lengths.criterion == "reusability"
    assert "exactly max_len" in lengths.message and "shorter" in lengths.message
    assert lengths.counterexample["failing_length"] < lengths.counterexample["max_len"]


@pytest.mark.slow  # a second worker
def test_seed_000_model_predicts_one_number_per_sequence_and_uses_positions(seed: Verdicts) -> None:
    results = statuses(seed["submission"])
    assert results["self_attention_model.output_shape"] == "pass"
    assert results["self_attention_model.uses_positions"] == "pass"


# --- binding constructor arguments by name (no worker) ---------------------------------------


def params(*names: str, defaults: tuple[str, ...] = ()) -> list[ParamInfo]:
    return [
        ParamInfo(n, "positional_or_keyword", n in defaults, "0" if n in defaults else None)
        for n in names
    ]


VALUES = {"max_len": 8, "d_model": 16, "dropout": 0.0}
ORDER = ("max_len", "d_model")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("seq_len", "d_model"), {"seq_len": 8, "d_model": 16}),
        (("embed_dim", "max_seq_len"), {"embed_dim": 16, "max_seq_len": 8}),
        (("dim", "num_positions", "dropout"), {"dim": 16, "num_positions": 8, "dropout": 0.0}),
        (("a", "b"), {"a": 8, "b": 16}),  # names that say nothing: the handout's order
    ],
)
def test_bind_matches_arguments_by_name_in_any_order(
    names: tuple[str, ...], expected: dict[str, int]
) -> None:
    assert bind(params(*names), VALUES, ORDER) == ([], expected)


def test_bind_leaves_unknown_defaults_alone_and_names_a_missing_parameter() -> None:
    assert bind(params("d_model", "scale", defaults=("scale",)), VALUES, ORDER) == (
        [],
        {"d_model": 16},
    )
    assert (
        bind(params("d_model", "max_len", "vocab_size"), VALUES, ORDER)
        == "no value for its parameter 'vocab_size'"
    )
