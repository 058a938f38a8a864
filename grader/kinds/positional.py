"""The positional-encoding test's kinds: a learnable positional encoding, a self-attention
model that uses it, and the training check on a dummy task only positions can solve.

Constructors are bound by parameter NAME (`grader.checks.binding`), since the question is
open and candidates choose their own signatures; ``init`` gives the handout's order, used
only for parameters whose names say nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader import kinds, positional
from grader.checks import positional_encoding, positional_model
from grader.kinds.base import Check, Kind, TaskRun, Trained
from grader.positional import PositionalTrainingOptions
from grader.result import CheckResult


@dataclass(frozen=True)
class EncodingOptions:
    init: str = "max_len, d_model"
    """The handout's constructor order, for parameters whose names say nothing."""


@kinds.register
class PositionalEncoding(Kind):
    name = "positional_encoding"
    title = "a learnable positional encoding Enc(max_len, d_model); forward(x) keeps x's shape"
    Options = EncodingOptions
    symbol_kind = "class"
    checks = (
        Check("learnable", "the encoding has trainable parameters"),
        Check("receives_gradients", "its parameters receive gradients from the output"),
        Check("shape_kept", "forward(x) returns x's shape (batch, seq, d_model)"),
        Check("same_across_batch", "every sequence of a batch gets the same encoding"),
        Check("differs_by_position", "different positions get different encodings"),
        Check("all_lengths", "works for every length up to max_len", "reusability"),
    )

    def check(self, run: TaskRun) -> list[CheckResult]:
        return positional_encoding.run(run)


@dataclass(frozen=True)
class ModelOptions:
    init: str = "seq_len, d_model, n_heads"
    """The handout's constructor order, for parameters whose names say nothing."""


@kinds.register
class PositionalModel(Kind):
    name = "positional_model"
    title = "a self-attention model (batch, seq, d_model) -> one prediction per sequence"
    Options = ModelOptions
    symbol_kind = "class"
    checks = (
        Check("output_shape", "one prediction per sequence: (batch,) or (batch, 1)"),
        Check("uses_positions", "swapping two positions changes the prediction"),
    )

    def check(self, run: TaskRun) -> list[CheckResult]:
        return positional_model.run(run)


@kinds.register
class PositionalTraining(Kind):
    name = "positional_training"
    title = "the model learns a dummy task only positions solve; their dummy data has signal"
    Options = PositionalTrainingOptions
    symbol_kind = "class"
    runs_without_symbol = True  # the candidate's dummy data is checked without a model too
    trains = True
    checks = (
        Check("runs", "their model trains on the dummy task without errors"),
        Check("learns_positions", "the validation MSE ends well below predicting the mean"),
        Check("dummy_data_signal", "the targets of their own dummy data depend on its inputs"),
    )

    def train(self, run: TaskRun) -> Trained | None:
        result, checks = positional.run_training(
            run.worker,
            run.task.id,
            run.options,
            run.loaded,
            run.config,
            model=run.symbol,
            looked_for=run.task.symbols,
        )
        return Trained(result, checks)
