"""The whole pipeline on the reference, submitted as a candidate, and on an assignment the
grader has never seen (added as a folder, without touching ``grader/``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from reference_submissions import (
    LANGUAGE_MODEL_REFERENCE,
    POSITIONAL_REFERENCE,
    reference_as_submission,
)

from grader import assignment as assignments
from grader.config import GraderConfig
from grader.pipeline import grade_submission
from grader.result import SubmissionResult

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CRITERIA = ("completion", "optimisation", "reusability", "readability")
PROJECT_DIR = Path(__file__).resolve().parents[2]


def grade(
    source: str, name: str, assignment: str, tmp_path: Path, folders: list[Path] | None = None
) -> SubmissionResult:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return grade_submission(path, assignments.get(assignment, folders), GraderConfig())


def explain(result: SubmissionResult) -> str:
    lines = [f"{name} {c.score}: " + " | ".join(c.evidence) for name, c in result.criteria.items()]
    return "\n".join(lines + list(result.errors))


@pytest.mark.parametrize(
    ("assignment", "modules"),
    [("transformer_lm", LANGUAGE_MODEL_REFERENCE), ("positional_encoding", POSITIONAL_REFERENCE)],
)
def test_the_reference_as_a_candidate_scores_at_least_95_everywhere(
    assignment: str, modules: tuple[str, ...], tmp_path: Path
) -> None:
    source = reference_as_submission(*modules, answers=assignment)
    result = grade(source, "reference_answer.py", assignment, tmp_path)
    assert not result.errors, result.errors
    assert all(task.status == "pass" for task in result.code_tasks.values()), {
        t.id: [(c.name, c.status, c.message) for c in t.checks if c.status != "pass"]
        for t in result.tasks.values()
    }
    assert all(answer.found and answer.score >= 0.9 for answer in result.answers)
    for criterion in CRITERIA:
        assert result.criteria[criterion].score >= 95, explain(result)
    assert result.overall >= 95


SEQ_FIRST_CHANGES = {
    # The model takes (seq, batch) tokens and returns (seq, batch, ntoken) logits ...
    "x = self.pos_encoder(self.embedding(src))  # (batch, seq, d_model)": (
        "x = self.pos_encoder(self.embedding(src.t()))  # (seq, batch) in, batch-first inside"
    ),
    "return self.linear(x)  # (batch, seq, ntoken)": (
        "return self.linear(x).transpose(0, 1)  # (seq, batch, ntoken)"
    ),
    # ... and the loop feeds it seq-first windows, with targets in the logits' order.
    "data = source[i : i + seq_len].t()  # (batch, seq)": "data = source[i : i + seq_len]",
    "targets = source[i + 1 : i + 1 + seq_len].t().reshape(-1)  # (batch * seq,)": (
        "targets = source[i + 1 : i + 1 + seq_len].reshape(-1)  # (seq * batch,)"
    ),
}
SEQ_AXIS = (
    "output = model(data, window_mask(full_mask, data.size(1)))",
    "output = model(data, window_mask(full_mask, data.size(0)))",
)
"""The loop's mask length comes from the sequence axis, now axis 0 (train and evaluate)."""
"""The catalogue's correct base made seq-first throughout, as PyTorch's word-language-model
example is: correct, but not the handout's batch-first interface."""


def test_a_seq_first_model_is_graded_through_a_batch_first_view(tmp_path: Path) -> None:
    source = (PROJECT_DIR / "tests" / "catalogue" / "base.py").read_text(encoding="utf-8")
    for old, new in SEQ_FIRST_CHANGES.items():
        assert source.count(old) == 1, f"base.py no longer contains {old!r} exactly once"
        source = source.replace(old, new)
    assert source.count(SEQ_AXIS[0]) == 2
    source = source.replace(*SEQ_AXIS)
    result = grade(source, "seq_first.py", "transformer_lm", tmp_path)
    training = {c.name: c for c in result.tasks["training"].checks}
    layout = training.pop("training.model_output_shape")
    assert layout.status == "fail" and "seq-first" in layout.message
    # Everything else judges the model itself, through the view, and finds it correct.
    assert {n: c.status for n, c in training.items() if c.status != "pass"} == {}
    assert all(t.status == "pass" for k, t in result.code_tasks.items() if k != "training")
    timed = {t.name.split(" ")[0] for t in result.timings}
    assert "training" in timed, result.criteria["optimisation"].evidence


TOY_TOML = """
id = "toy_attention"
title = "A toy test: scaled dot-product attention alone"
description = "Write attention(query, key, value, mask=None, dropout=None)."
handout = "handout.py"

[[tasks]]
id = "attention"
title = "Scaled dot-product attention"
kind = "attention"
symbols = ["attention"]
aliases = ["sdpa"]

[[questions]]
id = "why_scale"
prompt = "Why divide the scores by the square root of the key dimension?"
match = ["why divide the scores"]

  [[questions.rubric]]
  id = "variance"
  text = "Dot products of d-dimensional vectors have variance d; scaling keeps softmax out of saturation."
  patterns = ['variance', 'saturat']
"""

TOY_HANDOUT = """# %% [markdown]
# Why divide the scores by the square root of the key dimension?

# %%
import math
import torch


def attention(query, key, value, mask=None, dropout=None):
    raise NotImplementedError
"""

TOY_ANSWER = '''# %% [markdown]
# Why divide the scores by the square root of the key dimension?
#
# The dot product of two d-dimensional vectors has variance d, so without the scaling the
# softmax saturates and its gradients vanish.

# %%
import math
import torch


def attention(query, key, value, mask=None, dropout=None):
    """softmax(q k^T / sqrt(d)) v over the last two dimensions."""
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value
'''


def test_a_third_assignment_in_a_folder_of_its_own_is_gradable(tmp_path: Path) -> None:
    folder = tmp_path / "assignments" / "toy_attention"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text(TOY_TOML, encoding="utf-8")
    (folder / "handout.py").write_text(TOY_HANDOUT, encoding="utf-8")
    extra = [tmp_path / "assignments"]

    listed = subprocess.run(
        [
            str(Path(sys.executable).parent / "grader"),
            "--assignments-dir",
            str(extra[0]),
            "assignments",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "toy_attention" in listed.stdout and "transformer_lm" in listed.stdout

    result = grade(TOY_ANSWER, "toy_answer.py", "toy_attention", tmp_path, extra)
    assert result.assignment == "toy_attention" and result.training is None
    assert result.tasks["attention"].status == "pass", result.tasks["attention"].checks
    assert result.answers[0].found and result.answers[0].score == 1.0

    untouched = grade(TOY_HANDOUT, "handout_as_is.py", "toy_attention", tmp_path, extra)
    assert untouched.tasks["attention"].status == "missing"  # not attempted, not failed
    assert untouched.tasks["attention"].score == 0.0
    assert not untouched.answers[0].found or untouched.answers[0].score == 0.0
