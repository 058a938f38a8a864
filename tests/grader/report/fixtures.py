"""Graded results to render: one plausible submission, one broken one.

`graded_result` tells a coherent story a real grading could produce: the candidate's
multi-head attention ignores its mask, so the causality checks of the attention, the block
and the model fail, and the model trains to a validation loss *below* the synthetic corpus's
entropy floor (it sees the future). The findings point at the lines of
``sample_submission.py.txt`` where that code really is.

`broken_result` is the other end: a Markdown answer to the positional-encoding test whose
worker never started, with tasks missing, no training and the sandbox reduced to rlimits.

`hostile_result` plants markup in every string a candidate controls, for the escaping tests.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from grader.result import (
    CheckResult,
    CriterionScore,
    CurvePoint,
    Finding,
    SubmissionInfo,
    SubmissionResult,
    TaskResult,
    Timing,
    TrainingResult,
    TrainingRun,
    WrittenAnswer,
)

SAMPLE_SOURCE = Path(__file__).with_name("sample_submission.py.txt")


def line_of(source: str, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (so findings follow the file)."""
    for number, line in enumerate(source.split("\n"), start=1):
        if needle in line:
            return number
    raise ValueError(f"{needle!r} not in the sample source")


def _candidate_lines(source: str) -> tuple[int, ...]:
    """The lines the candidate wrote: the four functions the handout left empty."""
    spans = [
        ("def attention(", "return torch.matmul(p_attn, value)"),
        ("    def forward(self, query, key, value, mask=None):", "return self.out(x)"),
        ("    def forward(self, x, mask=None):", "return self.norm2("),
        ("def Generate_Mask(sz):", "torch.tril("),
    ]
    lines: list[int] = []
    for start, end in spans:
        lines += range(line_of(source, start), line_of(source, end) + 1)
    return tuple(lines)


def _check(name: str, status: str = "pass", message: str = "", **extra: object) -> CheckResult:
    task = name.split(".")[0]
    text = message or f"{name.split('.', 1)[1].replace('_', ' ')} holds on every example."
    return CheckResult(
        name=name, task=task, status=status, message=text, examples=12, duration_s=0.4, **extra
    )


def _task(
    id: str,
    title: str,
    symbol: str,
    resolved_by: str,
    checks: list[CheckResult],
    weight: float,
    note: str = "",
) -> TaskResult:
    """A graded task whose status and score follow from its checks."""
    passed = sum(c.passed for c in checks)
    return TaskResult(
        id=id,
        title=title,
        status="pass" if passed == len(checks) else "fail",
        score=passed / len(checks),
        symbol=symbol,
        resolved_by=resolved_by,
        checks=tuple(checks),
        weight=weight,
        note=note,
    )


def _curve(
    val: list[float | None], train: list[float | None], every: int = 25
) -> tuple[CurvePoint, ...]:
    return tuple(
        CurvePoint(step=i * every, train_loss=t, val_loss=v)
        for i, (v, t) in enumerate(zip(val, train))
    )


def graded_result() -> SubmissionResult:
    """A plausible graded notebook for the transformer language-model test."""
    source = SAMPLE_SOURCE.read_text(encoding="utf-8")
    leak = {
        "batch": 2,
        "seq_len": 5,
        "dim": 8,
        "n_heads": 2,
        "changed_position": 4,
        "leaked_into_position": 1,
        "max_change": 0.2113,
        "tolerance": 1e-05,
    }
    tasks = {
        "attention": _task(
            "attention",
            "Scaled dot-product attention",
            "attention",
            "name",
            [
                _check("attention.output_shape"),
                _check("attention.matches_reference"),
                _check("attention.matches_reference_masked"),
                _check("attention.weights_are_distribution"),
                _check(
                    "attention.large_logits_finite",
                    "fail",
                    "With scores around 1e4 the output contains NaN: masking with -1e9 in float16 "
                    "overflows. Use the dtype's own minimum (torch.finfo(scores.dtype).min).",
                    counterexample={
                        "shape": [1, 1, 3, 4],
                        "dtype": "float16",
                        "scale": 10000.0,
                        "nan_count": 12,
                    },
                ),
                _check("attention.cross_lengths", criterion="reusability"),
                _check("attention.dropout_none_deterministic"),
                _check("attention.dropout_respected"),
            ],
            weight=2.0,
        ),
        "multi_head_attention": _task(
            "multi_head_attention",
            "Multi-head self-attention",
            "MultiHeadSelfAttention",
            "name",
            [
                _check("multi_head_attention.output_shape"),
                _check("multi_head_attention.matches_reference"),
                _check("multi_head_attention.permutation_equivariant"),
                _check("multi_head_attention.batch_independent"),
                _check(
                    "multi_head_attention.causal",
                    "fail",
                    "Changing a later token changed the output at an earlier position although a "
                    "causal mask was passed: forward() does not hand the mask to attention().",
                    counterexample=leak,
                ),
                _check("multi_head_attention.default_construction", criterion="reusability"),
                _check("multi_head_attention.heads_range", criterion="reusability"),
                _check(
                    "multi_head_attention.rejects_indivisible",
                    "error",
                    "MultiHeadSelfAttention(10, 3) raised RuntimeError: shape '[2, -1, 9]' is invalid "
                    "for input of size 60 (expected a clear error at construction).",
                ),
            ],
            weight=2.0,
        ),
        "encoder_block": _task(
            "encoder_block",
            "Encoder block (post-LayerNorm)",
            "EncoderBlock",
            "name",
            [
                _check("encoder_block.output_shape"),
                _check("encoder_block.matches_reference"),
                _check("encoder_block.deterministic_eval"),
                _check("encoder_block.stochastic_train"),
                _check(
                    "encoder_block.causal",
                    "fail",
                    "The block's output at position 1 depends on position 3 under a causal mask.",
                    counterexample={**leak, "changed_position": 3},
                ),
            ],
            weight=1.5,
        ),
        "causal_mask": _task(
            "causal_mask",
            "Causal mask generation",
            "Generate_Mask",
            "observed",
            [
                _check("causal_mask.causal"),
                _check("causal_mask.attends_self"),
                _check("causal_mask.length_one", criterion="reusability"),
                _check("causal_mask.other_length", criterion="reusability"),
                _check("causal_mask.convention"),
            ],
            weight=1.5,
            note="Boolean keep mask (1 = may attend), seen reaching the model in train().",
        ),
        "training": _task(
            "training",
            "The model trains and the validation loss decreases",
            "TransformerModelManualAttn",
            "name",
            [
                _check("training.model_output_shape"),
                _check(
                    "training.model_causal",
                    "fail",
                    "The logits at position 2 change when token 6 changes: the model sees the future.",
                    counterexample={
                        "batch": 1,
                        "seq_len": 8,
                        "changed_position": 6,
                        "leaked_into_position": 2,
                    },
                ),
                _check("training.model_uses_positions"),
                _check("training.model_batch_independent"),
                _check("training.runs"),
                _check("training.loss_decreases"),
                _check(
                    "training.not_too_good",
                    "fail",
                    "Validation loss 2.02 is 0.93 nats below the corpus's entropy floor 2.95: no "
                    "honest model can do that, so the model sees the tokens it predicts.",
                    counterexample={"val_loss": 2.02, "entropy_floor": 2.95, "margin": 0.25},
                ),
                _check("training.candidate_loop"),
                _check(
                    "training.mask_reaches_model",
                    "skip",
                    "Skipped: the model's attention ignores the mask it is given, so where the mask "
                    "goes says nothing.",
                ),
            ],
            weight=2.0,
        ),
    }
    training = TrainingResult(
        status="fail",
        corpus="synthetic",
        splits=("train", "valid"),
        budget="quick",
        baseline_loss=4.1,
        entropy_floor=2.95,
        vocab_size=64,
        runs=(
            TrainingRun(
                driver="reference_loop",
                status="fail",
                message="Validation loss fell from 4.16 to 2.02 in 150 steps, 0.93 below the entropy "
                "floor: the model leaks future tokens.",
                steps=150,
                val_loss_before=4.16,
                val_loss_after=2.02,
                curve=_curve(
                    [4.16, 3.71, 3.22, 2.81, 2.43, 2.18, 2.02],
                    [None, 3.98, 3.47, 3.02, 2.66, 2.35, 2.12],
                ),
                ms_per_batch=41.3,
                tokens_per_s=16950.0,
                observations=("a mask was passed in 150 of 150 calls",),
            ),
            TrainingRun(
                driver="candidate_loop",
                status="pass",
                message="The candidate's train() ran 120 batches; validation loss fell from 4.16 to 3.05.",
                steps=120,
                val_loss_before=4.16,
                val_loss_after=3.05,
                curve=_curve(
                    [4.16, 3.88, 3.61, 3.4, 3.24, 3.13, 3.05],
                    [None, 4.02, 3.75, 3.52, 3.33, 3.2, 3.11],
                    every=20,
                ),
                ms_per_batch=44.8,
                tokens_per_s=15625.0,
                candidate_reported=("batch   200 | loss  3.41 |   8.2 s",),
                observations=("mask built inline in train(): shape [35, 35], dtype float32",),
            ),
        ),
    )
    findings = (
        Finding(
            "opt.python-loop-over-heads",
            "optimisation",
            "The heads are computed one at a time in a Python loop, re-running the three "
            "projections per head; reshape to (batch, heads, seq, head_dim) and attend once.",
            line=line_of(source, "for h in range(self.n_heads)"),
            severity="major",
            symbol="MultiHeadSelfAttention.forward",
        ),
        Finding(
            "opt.to-device-discarded",
            "optimisation",
            "`mask.to(device)` returns a new tensor and the result is thrown away: the mask stays "
            "where it was built.",
            line=line_of(source, "mask.to(device)"),
            symbol="train",
        ),
        Finding(
            "reuse.hard-coded-size",
            "reusability",
            "The position table has a fixed 512 rows: longer inputs fail with an index error.",
            line=line_of(source, "nn.Embedding(512, d_model)"),
            symbol="TransformerModelManualAttn.__init__",
        ),
        Finding(
            "ruff.N802",
            "readability",
            "Function name `Generate_Mask` should be lowercase.",
            line=line_of(source, "def Generate_Mask"),
            symbol="Generate_Mask",
        ),
        Finding(
            "ruff.E501",
            "readability",
            "Line too long (113 > 100).",
            line=line_of(source, "[EncoderBlock(MultiHeadSelfAttention("),
            severity="info",
        ),
        Finding(
            "nb.never-run",
            "notebook",
            "Cell 14 (the evaluation loop) was never run: its code is graded but its output was never seen.",
            severity="info",
        ),
        Finding(
            "nb.out-of-order",
            "notebook",
            "Cells ran out of order: cell 6 (In [58]) ran after cell 9 (In [45]); the notebook may "
            "not reproduce from top to bottom.",
            line=line_of(source, "def batchify"),
            severity="info",
        ),
        Finding(
            "nb.stale-output",
            "notebook",
            "The output of cell 16 shows a loss of 5.12 printed before the cell's code was last changed.",
            severity="info",
        ),
    )
    criteria = {
        "completion": CriterionScore(
            "completion",
            64.0,
            evidence=(
                "attention: 7 of 8 checks passed (weight 2).",
                "multi_head_attention: 6 of 8 checks passed; the mask is never applied (weight 2).",
                "encoder_block: 4 of 5 checks passed (weight 1.5).",
                "causal_mask: 5 of 5 checks passed (weight 1.5).",
                "training: the loss decreases but the model sees future tokens (weight 2).",
                "Written answers: 55 % of rubric points (suggested).",
            ),
            metrics={"weighted_checks_passed": 0.71, "answers": 0.55},
        ),
        "optimisation": CriterionScore(
            "optimisation",
            62.0,
            evidence=(
                "Multi-head attention fwd+bwd is 2.4x the reference (band 70).",
                "Heads computed in a Python loop (major, -10).",
                "A .to(device) result is discarded (minor, -4).",
            ),
            findings=findings[:2],
            metrics={"worst_ratio": 2.41},
        ),
        "reusability": CriterionScore(
            "reusability",
            78.0,
            evidence=(
                "5 of 6 generality checks passed.",
                "A hard-coded 512-position table (minor, -4).",
            ),
            findings=(findings[2],),
        ),
        "readability": CriterionScore(
            "readability",
            83.0,
            evidence=(
                "2 ruff findings in 41 candidate lines (4.9 per 100 lines, -15).",
                "Every function is short (max cyclomatic complexity 4).",
            ),
            findings=findings[3:5],
            metrics={"ruff_per_100_lines": 4.9, "max_complexity": 4},
        ),
    }
    answers = (
        WrittenAnswer(
            question="attention_cost",
            prompt="Describe the attention complexity in memory and computation costs. "
            "Do you know methods to try to reduce this cost?",
            found=True,
            score=0.4,
            points=(
                {
                    "point": "quadratic_time",
                    "earned": True,
                    "quote": "Attention costs O(n^2 d) operations for n tokens.",
                },
                {"point": "quadratic_memory", "earned": False, "quote": None},
                {
                    "point": "sparse_local",
                    "earned": True,
                    "quote": "Sparse attention only computes some pairs.",
                },
                {"point": "low_rank_kernel", "earned": False, "quote": None},
                {"point": "io_aware", "earned": False, "quote": None},
            ),
            misconceptions=(
                {
                    "id": "lora_for_attention_cost",
                    "message": "LoRA reduces the trainable parameters when fine-tuning; it does not "
                    "reduce the quadratic cost of attention.",
                    "quote": "We can also use LoRA to make attention cheaper.",
                },
            ),
            answer="Attention costs O(n^2 d) operations for n tokens. Sparse attention only computes "
            "some pairs. We can also use LoRA to make attention cheaper.",
        ),
        WrittenAnswer(
            question="causal_mask_why",
            prompt="Why use a causal mask in attention? Are there any other interesting masks or "
            "patterns that can be used for training or for generation?",
            found=True,
            score=0.75,
            points=(
                {
                    "point": "no_future",
                    "earned": True,
                    "quote": "The mask stops a token from seeing future tokens.",
                },
                {
                    "point": "train_generate_consistency",
                    "earned": True,
                    "quote": "At generation time the later tokens do not exist yet.",
                },
                {"point": "padding", "earned": False, "quote": None},
                {
                    "point": "other_patterns",
                    "earned": True,
                    "quote": "Prefix-LM masks let the prompt attend both ways.",
                },
            ),
            answer="The mask stops a token from seeing future tokens. At generation time the later "
            "tokens do not exist yet. Prefix-LM masks let the prompt attend both ways.",
        ),
    )
    return SubmissionResult(
        submission=SubmissionInfo(
            path="submissions/strong_but_leaky.ipynb",
            name="strong_but_leaky",
            format="ipynb",
            sha256="5f2b9c0e8d7a6b4c3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d",
            size_bytes=48213,
        ),
        assignment="transformer_lm",
        tasks=tasks,
        training=training,
        criteria=criteria,
        overall=69.0,
        environment={
            "python": "3.11.9",
            "versions": {
                "torch": "2.3.1",
                "torchtext": "0.18.0",
                "hypothesis": "6.112.1",
                "grader": "0.1.0",
            },
            "seeds": {"hypothesis": 0, "torch": 0, "corpus": 0},
            "budget": "quick",
            "device": "cpu",
            "corpus": "synthetic",
            "splits": ["train", "valid"],
            "sandbox": {
                "isolation": "bwrap",
                "network": "none (own namespace)",
                "cpu_seconds": 600,
            },
        },
        source=source,
        candidate_lines=_candidate_lines(source),
        findings=findings,
        timings=(
            Timing("attention fwd+bwd (20, 2, 35, 100)", 0.412, 0.398, 0.011, 0.009),
            Timing("multi-head attention fwd+bwd (20, 35, 200)", 2.87, 1.19, 0.08, 0.03),
            Timing("training step (20, 35), 2 layers", 41.3, 37.9, 1.2, 0.9),
        ),
        answers=answers,
        intake={
            # The shape of grader.intake.extract.Skipped, as the pipeline stores it.
            "skipped": [
                {
                    "cell": 2,
                    "line": 1,
                    "snippet": "!pip install torchtext==0.18.0",
                    "reason": "IPython shell escape: installs packages",
                    "effects": ["shell"],
                },
                {
                    "cell": 12,
                    "line": 3,
                    "snippet": "train(model, train_data)",
                    "reason": "top-level call that trains: the grader drives training itself",
                    "effects": ["training", "loop"],
                },
                {
                    "cell": 13,
                    "line": 1,
                    "snippet": "torch.save(model, 'model.pt')",
                    "reason": "writes a file",
                    "effects": ["file-write"],
                },
            ],
            "cells": {"total": 18, "code": 14, "executed": 13},
            "resolved": {
                "attention": "attention",
                "multi_head_attention": "MultiHeadSelfAttention",
            },
        },
    )


def broken_result() -> SubmissionResult:
    """A submission whose worker never started: missing tasks, no training, weak sandbox."""
    return SubmissionResult(
        submission=SubmissionInfo(
            path="../shared/seeds/answer.md",
            name="markdown_answer",
            format="markdown",
            sha256="0" * 64,
            size_bytes=5120,
        ),
        assignment="positional_encoding",
        tasks={
            "positional_encoding": TaskResult(
                "positional_encoding",
                "Learnable positional encoding",
                "error",
                0.0,
                "PositionalEncoding",
                "name",
                note="The worker was killed after 30 s while loading the submission.",
            ),
            "self_attention_model": TaskResult(
                "self_attention_model", "A self-attention model", "missing", 0.0, None, None
            ),
            "training": TaskResult(
                "training", "The model learns the dummy task", "missing", 0.0, None, None
            ),
        },
        training=None,
        criteria={
            "completion": CriterionScore(
                "completion",
                5.0,
                evidence=("No task could be run.", "Written answer: 30 % (suggested)."),
            ),
            "optimisation": CriterionScore(
                "optimisation", 0.0, evidence=("Nothing ran, nothing to time.",)
            ),
            "reusability": CriterionScore("reusability", 0.0),
        },
        overall=2.3,
        environment={
            "versions": {"torch": "2.3.1"},
            "seeds": {"hypothesis": 0},
            "budget": "quick",
            "sandbox": {
                "isolation": "rlimits-only",
                "network_isolated": False,
                "uid": None,
                "notes": ["bwrap is not installed (apt-get install bubblewrap)."],
            },
        },
        source="class PositionalEncoding(nn.Module):\n    def __init__(self, seq_len, d_model):\n        super().__init__()\n",
        errors=(
            "The worker could not load the submission: killed after 30 s (wall-clock limit).",
            "bubblewrap is not installed: fell back to rlimits and the audit hook.",
        ),
        answers=(
            WrittenAnswer(
                question="stacking_issues",
                prompt="Suppose that we design a deep architecture by stacking self-attention layers "
                "with positional encoding. What could be issues?",
                found=False,
                score=0.0,
            ),
        ),
    )


HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
"""Markup a hostile candidate might plant in anything they control."""


def hostile_result(base: SubmissionResult) -> SubmissionResult:
    """``base`` with `HOSTILE` planted everywhere the candidate controls text: the file name,
    an exception message and its counterexample, their code, their printed output, their
    written answer, a skipped statement, a finding quoting their code and a submission error."""
    task_id, task = next(iter(base.tasks.items()))
    error = CheckResult(
        name=f"{task_id}.output_shape",
        task=task_id,
        status="error",
        message=f"raised ValueError: {HOSTILE}",
        counterexample={"printed": HOSTILE},
    )
    tasks = {
        **base.tasks,
        task_id: replace(task, checks=(error, *task.checks), symbol=HOSTILE, note=HOSTILE),
    }
    training = base.training
    if training:
        run = replace(training.runs[0], candidate_reported=(HOSTILE,), observations=(HOSTILE,))
        training = replace(training, runs=(run, *training.runs[1:]))
    answers = tuple(replace(a, answer=HOSTILE + a.answer) for a in base.answers)
    return replace(
        base,
        submission=replace(base.submission, name=HOSTILE, path=HOSTILE),
        tasks=tasks,
        training=training,
        source=base.source + f"\nprint('{HOSTILE}')  # </td></tr></table>\n",
        answers=answers,
        findings=(
            *base.findings,
            Finding("ruff.E999", "readability", f"quotes the code: {HOSTILE}", line=1),
        ),
        intake={
            **base.intake,
            "skipped": [{"cell": 1, "line": 1, "snippet": HOSTILE, "reason": "shell escape"}],
        },
        errors=(*base.errors, f"worker stderr: {HOSTILE}"),
        environment={**base.environment, "candidate_env": HOSTILE},
    )
