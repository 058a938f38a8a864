"""Seed 004, a real candidate's notebook, through the property battery.

The seed is read from ../shared/seeds (as exported text and as the notebook itself) and
graded through the real stages (tests/catalogue/battery.py). It has no mask function, so its
inline mask is found the way a real grading finds it: by watching the masks its own
``train()`` hands to its attention.

What the seed gets right must pass; its two real bugs must fail with a message that names
them: ``MultiHeadSelfAttention(dim, n_heads)`` builds ``nn.Dropout(p=None)`` from its own
default ``dropout=None``, and the tutorial's seq-first positional encoding (max_len, 1,
d_model), applied to batch-first input, is added along the batch axis.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from catalogue.battery import Graded, grade_file

from grader.config import GraderConfig

SEEDS = Path(__file__).resolve().parents[3] / ".." / "shared" / "seeds"
MODULE_TASKS = ("attention", "multi_head_attention", "encoder_block", "causal_mask")
DEFAULT_CONSTRUCTION = "multi_head_attention.default_construction"
OTHER_LENGTH = "causal_mask.other_length"
"""Not applicable to the seed: its mask is built inline, and its train() crashes on the
first window (seq-first windows fed to a batch-first model), so one length is all it shows."""


def seed_file(suffix: str) -> Path:
    found = sorted(SEEDS.glob(f"004_*{suffix}"))
    if not found:
        pytest.skip(f"seed 004 ({suffix}) not found in {SEEDS.resolve()}")
    return found[0]


@pytest.fixture(scope="module", params=[".txt", ".ipynb"], ids=["text", "notebook"])
def graded(request: pytest.FixtureRequest) -> Iterator[Graded]:
    """The seed's one grading per format."""
    path = seed_file(request.param)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    result = grade_file(
        path, GraderConfig(budget="quick"), train=False, name=f"seed004{request.param}"
    )
    torch.set_num_threads(threads)
    print(f"\n[battery] {result.timing()}")
    assert result.load_error is None, result.load_error
    yield result


@pytest.mark.slow
def test_module_tasks_pass_but_the_default_construction(graded: Graded) -> None:
    checks = {n: c for n, c in graded.checks.items() if n.split(".")[0] in MODULE_TASKS}
    assert {n.split(".")[0] for n in checks} == set(MODULE_TASKS), graded.timing()
    wrong = [
        c
        for n, c in checks.items()
        if c.status != "pass" and n not in (DEFAULT_CONSTRUCTION, OTHER_LENGTH)
    ]
    assert not wrong, "\n".join(f"{c.name}: {c.status}: {c.message}" for c in wrong)
    other_length = checks[OTHER_LENGTH]
    assert other_length.status in ("pass", "skip"), other_length.message
    if other_length.status == "skip":
        assert "one length" in other_length.message


@pytest.mark.slow
def test_mask_is_observed_in_the_seeds_own_train(graded: Graded) -> None:
    convention = graded.checks["causal_mask.convention"]
    assert convention.status == "pass"
    assert "observed" in convention.message and "train()" in convention.message, convention.message


@pytest.mark.slow
def test_default_dropout_none_fails_and_says_so(graded: Graded) -> None:
    check = graded.checks[DEFAULT_CONSTRUCTION]
    assert check.status == "fail", f"{check.status}: {check.message}"
    assert "dropout=None" in check.message, check.message
    assert check.counterexample and check.counterexample["defaults"] == ["dropout=None"]


@pytest.mark.slow
def test_encoding_along_the_batch_axis_fails_and_says_so(graded: Graded) -> None:
    check = graded.checks["training.model_uses_positions"]
    assert check.status == "fail", f"{check.status}: {check.message}"
    assert "batch axis" in check.message, check.message
    assert check.counterexample and check.counterexample["batch_axis_difference"] > 0
    # The same bug makes a sequence's logits depend on its row in the batch.
    assert graded.checks["training.model_batch_independent"].status == "fail"
