"""Property suites, one module per kind of task, and the registry the assignments name.

A suite is ``run(ctx: SuiteContext) -> list[CheckResult]``. Suites run in the grader and
reach the candidate's code only through the worker.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.checks import (
    attention,
    causal_mask,
    encoder_block,
    language_model,
    multi_head_attention,
    positional_encoding,
    positional_model,
)
from grader.checks.base import SuiteContext
from grader.result import CheckResult

Suite = Callable[[SuiteContext], list[CheckResult]]

SUITES: dict[str, Suite] = {
    "attention": attention.run,
    "multi_head_attention": multi_head_attention.run,
    "encoder_block": encoder_block.run,
    "causal_mask": causal_mask.run,
    # The training task opens with the whole-model properties; the training check follows.
    "lm_training": language_model.run,
    "positional_encoding": positional_encoding.run,
    "positional_model": positional_model.run,
}
