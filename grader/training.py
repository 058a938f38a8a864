"""The training check: does the candidate's model train, and does validation loss go down?

"Complete the code such that the training runs and the validation loss decreases" is the
test's own definition of done. The check drives up to three runs:

- ``reference_loop``: our loop (trusted code shipped into the worker) trains the candidate's
  model, so a broken model is told apart from a broken loop;
- ``candidate_loop``: the candidate's own ``train()`` on data we pass (its size bounds the
  run), with their model's ``forward`` recorded to see which masks reach it;
- ``reference_model``: the reference model on the same loop and data, in a trusted worker,
  for the baseline curve and the ms/batch comparison.

Validation loss is always computed HERE, from logits the worker returns for windows we
chose. Losses the candidate prints are shown but never trusted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from grader.checks.binding import bind
from grader.checks.masks import identify
from grader.config import GraderConfig
from grader.driver import Interrupted, drive
from grader.result import CheckResult, CurvePoint, TrainingResult, TrainingRun
from grader.sandbox import CandidateError, Sandbox, WorkerError, roles
from grader.trusted import ReferenceUnavailable, start_reference
from reference.data import Corpus, batchify
from reference.masks import causal_mask

PTB_FLOOR_NATS = 3.5
"""No published word-level model reaches a PTB validation loss below ~3.5 nats (perplexity
33); a short CPU run that does is seeing the answers."""

ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "model": ("model", "net", "transformer", "lm"),
    "data": (
        "train_data",
        "data",
        "source",
        "data_source",
        "eval_data",
        "val_data",
        "dataset",
        "train_source",
    ),
    "window": (
        "window_size",
        "bptt",
        "seq_len",
        "window",
        "sequence_length",
        "block_size",
        "seq_length",
    ),
    "criterion": ("criterion", "loss_fn", "loss_function", "loss", "loss_func"),
    "ntokens": ("ntokens", "ntoken", "vocab_size", "n_tokens", "num_tokens", "n_vocab"),
    "optimizer": ("optimizer", "optim", "opt"),
    "scheduler": ("scheduler", "lr_scheduler", "sched"),
    "epoch": ("epoch", "epoch_idx"),
    "device": ("device",),
    "use_causal_mask": ("use_causal_mask", "causal", "use_mask", "causal_mask"),
}
"""Parameter names of the handout's ``train``/``evaluate`` and the synonyms candidates use."""


@dataclass(frozen=True)
class LMOptions:
    """The language-model training set-up (the task's options in ``assignment.toml``)."""

    d_model: int = 200
    """Embedding width of the model the training check builds (the handout's emsize)."""
    nhead: int = 2
    """Attention heads."""
    d_hid: int = 200
    """Feed-forward width."""
    nlayers: int = 2
    """Encoder blocks."""
    dropout: float = 0.1
    """Dropout rate passed to the model."""
    lr: float = 5.0
    """Learning rate of the SGD the candidate's own ``train()`` receives (the handout's)."""
    clip: float = 0.5
    """Gradient-norm clipping of the handout's loop."""
    gamma: float = 0.95
    """StepLR decay per epoch."""
    batch_size: int = 20
    """Training batch (columns of the token stream)."""
    eval_batch_size: int = 10
    """Validation batch."""
    bptt: int = 35
    """Window length in tokens."""
    loop_optimizer: Literal["sgd", "adam"] = "sgd"
    """The optimiser of the grader's own loop (`reference_loop`)."""
    loop_lr: float | None = None
    """Its learning rate (None: ``lr``)."""
    epochs: int = 10
    """The test's own number of epochs: what ``--budget full`` trains."""

    def batches_per_epoch(self, train_tokens: int) -> int:
        """Windows of ``bptt`` tokens in one pass over ``train_tokens`` laid out in
        ``batch_size`` columns (the last, shorter window included)."""
        rows = train_tokens // self.batch_size
        return max(1, math.ceil((rows - 1) / self.bptt))


@dataclass(frozen=True)
class EvalSet:
    """Fixed validation windows chosen by the grader: data and targets, batch-first."""

    windows: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # each (B, L) data, (B, L) targets

    @classmethod
    def from_tokens(cls, tokens: torch.Tensor, batch: int, bptt: int, count: int) -> EvalSet:
        columns = batchify(tokens, batch)  # (seq, batch)
        starts = torch.linspace(0, columns.size(0) - bptt - 2, count).long().tolist()
        return cls(
            tuple((columns[i : i + bptt].t(), columns[i + 1 : i + 1 + bptt].t()) for i in starts)
        )


def eval_sets(corpus: Corpus, opts: LMOptions, config: GraderConfig) -> tuple[EvalSet, EvalSet]:
    """(watched, held out): the windows the curve is measured on, from the first half of the
    validation split, and the windows the final loss is measured on, from the second half,
    never shown to the model before. A model that remembers what it was evaluated on (a
    cache keyed by the window) gains nothing on windows it has not seen."""
    count = config.training_budget.eval_windows
    batch, bptt = opts.eval_batch_size, opts.bptt
    half = corpus.valid.numel() // 2
    return (
        EvalSet.from_tokens(corpus.valid[:half], batch, bptt, count),
        EvalSet.from_tokens(corpus.valid[half:], batch, bptt, count),
    )


def new_model(worker: Any, cls: str, vocab: int, opts: LMOptions, **extra: Any) -> Any:
    """``cls(ntoken, d_model, nhead, d_hid, nlayers, dropout)`` at the assignment's sizes, as
    the handout builds its model, in ``worker``."""
    sizes = (opts.d_model, opts.nhead, opts.d_hid, opts.nlayers, opts.dropout)
    return worker.new(cls, vocab, *sizes, **extra)


def validation_loss(
    worker: Any, model: Any, evals: EvalSet, mask: torch.Tensor | None, vocab: int
) -> float:
    """Mean cross-entropy (nats/token) of the logits the worker returns for our windows."""
    total, count = 0.0, 0
    for data, targets in evals.windows:
        logits = worker.run("lm_logits", model, data, mask)
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (*data.shape, vocab):
            got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(
                f"the model returned {got} for a {tuple(data.shape)} batch; expected {(*data.shape, vocab)}"
            )
        loss = F.cross_entropy(
            logits.double().reshape(-1, vocab), targets.reshape(-1), reduction="sum"
        )
        total += float(loss)
        count += targets.numel()
    return total / count


def train_and_measure(
    worker: Any,
    model: Any,
    corpus: Corpus,
    opts: LMOptions,
    config: GraderConfig,
    mask: torch.Tensor | None,
    driver: str,
) -> TrainingRun:
    """Our loop on ``model`` in ``worker``, driven by `grader.driver.drive`; validation
    measured here after every chunk."""
    budget = config.training_budget
    vocab = corpus.vocab_size
    evals, held_out = eval_sets(corpus, opts, config)
    train = batchify(corpus.train, opts.batch_size)  # (seq, batch), as the handout lays it out
    steps = budget.steps_for(opts.batches_per_epoch(corpus.train.numel()))
    trainer: list[Any] = []

    def setup() -> None:
        lr = opts.loop_lr if opts.loop_lr is not None else opts.lr
        optimizer = opts.loop_optimizer
        trainer.append(
            worker.run("lm_trainer", model, lr, opts.clip, opts.gamma, optimizer=optimizer)
        )

    def advance(first: int, count: int) -> list[float]:
        return worker.call_method(trainer[0], "steps", train, first, count, opts.bptt, mask)

    try:
        run = drive(
            steps=steps,
            eval_every=budget.eval_every,
            timeout_s=budget.timeout_s,
            evaluate=lambda: validation_loss(worker, model, evals, mask, vocab),
            advance=advance,
            setup=setup,
            stop_on=(WorkerError, ValueError),
        )
        leak = future_leak(worker, model, held_out, mask, vocab)
        # The verdict's final loss is on windows never shown to the model (see `eval_sets`).
        after = (
            validation_loss(worker, model, held_out, mask, vocab)
            if math.isfinite(run.last)
            else run.last
        )
    except Interrupted as stop:
        cause = stop.cause
        message = (
            f"training crashed after {stop.steps} steps: {cause.summary()}"
            if isinstance(cause, WorkerError)
            else str(cause)
        )
        return TrainingRun(driver, "error", message, steps=stop.steps, curve=stop.curve)
    except WorkerError as exc:
        message = f"training crashed after {run.steps} steps: {exc.summary()}"
        return TrainingRun(driver, "error", message, steps=run.steps, curve=run.curve)
    except ValueError as exc:
        return TrainingRun(driver, "error", str(exc), steps=run.steps, curve=run.curve)
    ms = run.ms_per_step
    tokens = opts.batch_size * opts.bptt
    status, message = verdict(run.before, after, corpus, config)
    if leak is not None and status != "fail":
        status, message = "fail", f"{message}; but {leak}: {LEAK}"
    if run.timed_out:
        message += (
            f" (stopped by the {budget.timeout_s:.0f} s limit after {run.steps} of {steps} steps)"
        )
    return TrainingRun(
        driver,
        status,
        message,
        steps=run.steps,
        val_loss_before=run.before,
        val_loss_after=after,
        curve=run.curve,
        ms_per_batch=ms,
        tokens_per_s=None if not ms else round(tokens / ms * 1000, 1),
    )


REFERENCE_MODEL = "reference.model:TransformerLM"
"""The reference language model, in the trusted worker."""

LEAK = "the model sees the tokens it should predict (a missing or wrong causal mask)"
"""The end of every message that reports a leak; `checks_from_runs` looks for it."""


def future_leak(
    worker: Any, model: Any, evals: EvalSet, mask: torch.Tensor | None, vocab: int
) -> str | None:
    """A sentence when the trained model's predictions depend on tokens after their position.

    Every token from the middle of a validation window on is replaced; a causal model's
    logits before the middle cannot move (up to float rounding), whatever it learned. The mask
    is the one the run trained with, so this judges the model and mask together. Each input
    goes to a fresh copy of the model (``fresh_lm_logits``): a model that caches what it was
    shown, keyed by the window's start, would otherwise answer the second input from the
    first. ``evals`` should be windows the model never saw.
    """
    data, _ = evals.windows[0]  # (B, L)
    cut = data.size(1) // 2
    changed = data.clone()
    changed[:, cut:] = (data[:, cut:] + 1) % vocab  # every later token differs
    before = worker.run("fresh_lm_logits", model, data, mask)[:, :cut]  # (B, cut, vocab)
    after = worker.run("fresh_lm_logits", model, changed, mask)[:, :cut]  # (B, cut, vocab)
    moved = (before - after).abs().nan_to_num(0.0)  # (B, cut, vocab)
    tolerance = 1e-4 * max(1.0, float(before.abs().nan_to_num(0.0).max()))
    if float(moved.max()) <= tolerance:
        return None
    position = int(moved.amax(dim=(0, 2)).argmax())
    return (
        f"changing the tokens from position {cut} on moved the prediction at position {position} "
        f"by up to {float(moved.max()):.3g} in the logits"
    )


def reference_baseline(
    corpus: Corpus, opts: LMOptions, config: GraderConfig, worker: Sandbox | None = None
) -> TrainingRun:
    """The reference model on the same loop, data and budget, in a worker of its own
    (``worker``, from `grader.trusted.start_reference`, or one started and closed here).

    Its curve is the baseline the report plots, and its ms/batch the yardstick for the
    candidate's: both ran on this machine, in a worker under the same limits, moments apart.
    It never shares a worker with candidate code, so nothing the candidate does can slow it.
    """
    own = worker is None
    try:
        worker = worker or start_reference(config)
        worker.run("reseed", config.seed)
        # The handout's model adds positions to unscaled embeddings; so does the baseline,
        # so the two curves differ by the candidate's code, not by the architecture.
        model = new_model(worker, REFERENCE_MODEL, corpus.vocab_size, opts, scale_embedding=False)
        causal = causal_mask(opts.bptt)  # (bptt, bptt), True = may attend
        return train_and_measure(worker, model, corpus, opts, config, causal, "reference_model")
    except ReferenceUnavailable as exc:
        return TrainingRun("reference_model", "error", str(exc))
    except WorkerError as exc:
        return TrainingRun("reference_model", "error", f"the reference run failed: {exc.summary()}")
    finally:
        if own and worker is not None:
            worker.close()


def verdict(
    before: float, after: float | None, corpus: Corpus, config: GraderConfig
) -> tuple[str, str]:
    """Pass, fail or a leak, with the numbers and the margin used."""
    t = config.training
    if after is None or not math.isfinite(after):
        return (
            "fail",
            f"the validation loss became {after} (NaN or inf): training diverged or the model produces NaN",
        )
    drop = before - after
    needed = max(t.min_absolute_drop, t.min_relative_drop * before)
    numbers = f"validation loss {before:.3f} -> {after:.3f} nats/token (perplexity {math.exp(min(before, 50)):.0f} -> {math.exp(min(after, 50)):.1f})"
    floor = (
        corpus.entropy_rate
        if corpus.entropy_rate is not None
        else (PTB_FLOOR_NATS if corpus.name.startswith("ptb") else None)
    )
    if floor is not None and after < floor - t.leak_margin_nats:
        return (
            "fail",
            f"{numbers}: below {floor:.2f} nats, the lowest loss any honest model can reach on this corpus; {LEAK}",
        )
    if drop < needed:
        return "fail", (
            f"{numbers}: it did not go down by the required {needed:.3f} "
            f"(max of {t.min_absolute_drop} nats and {t.min_relative_drop:.0%} of the start; the grader "
            "evaluates the same fixed windows before and after, so an unchanged model gives exactly 0)"
        )
    return "pass", f"{numbers}: it went down by {drop:.3f} (needed {needed:.3f})"


def frequencies_learned(
    before: float, after: float | None, corpus: Corpus, config: GraderConfig
) -> str | None:
    """The verdict's words when their own loop fell short of the relative drop but reached the
    corpus's unigram plateau (within ``context_margin_nats``), by at least the absolute drop;
    else None. The handout's SGD at lr 5 sits on that plateau for hundreds of batches, so a
    model initialised near the uniform distribution (minGPT's normal(0, 0.02)) starts too
    close to it for 5 % of its start: reaching it is what a correct loop does in this run."""
    t = config.training
    if after is None or not math.isfinite(after):
        return None
    drop = before - after
    if drop < t.min_absolute_drop or after > corpus.unigram_entropy + t.context_margin_nats:
        return None
    return (
        f"validation loss {before:.3f} -> {after:.3f} nats/token: it went down by {drop:.3f} "
        f"to the corpus's unigram plateau ({corpus.unigram_entropy:.3f}), which the handout's "
        "SGD reaches first; your model starts close to it, so the drop from the start is small"
    )


def loop_arguments(
    params: Any,
    model: Any,
    data: torch.Tensor,
    bptt: int,
    vocab: int,
    objects: tuple[Any, Any, Any],
    device: str = "cpu",
) -> tuple[list[Any], dict[str, Any]] | str:
    """`bind_arguments` for the handout's ``train()`` / ``evaluate()``: the model, data laid out
    (seq, batch), the window, and the (criterion, optimizer, scheduler) of ``training_objects``."""
    criterion, optimizer, scheduler = objects
    values = {
        "model": model,
        "data": data,
        "window": bptt,
        "criterion": criterion,
        "ntokens": vocab,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "epoch": 1,
        "device": device,
        "use_causal_mask": True,
    }
    return bind_arguments(params, values)


def bind_arguments(params: Any, values: dict[str, Any]) -> tuple[list[Any], dict[str, Any]] | str:
    """Match the candidate's parameter names to the roles we can supply (`ROLE_NAMES`), with
    the one binder every kind uses (`grader.checks.binding.bind`); a sentence if we cannot."""
    bound = bind(params, values, order=(), roles=ROLE_NAMES)
    return f"cannot call it: {bound}" if isinstance(bound, str) else bound


PROBE_VOCAB = 50
PROBE_COLUMNS = 4
PROBE_COLUMN_OFFSET = 13
"""The probe stream's columns start this many tokens apart, so no two windows are alike."""


@dataclass(frozen=True)
class LoopProbe:
    """What the candidate's train() did on a tiny successor stream (`probe_loop`)."""

    records: dict[str, list[dict[str, Any]]]
    """Recorded calls of each watched function, arguments by the candidate's names."""
    losses: list[list[torch.Tensor]]
    """``[logits, targets]`` of each call of the criterion we passed, in call order."""
    error: CandidateError | None
    """What their train() raised, if it did."""
    modes: list[list[bool]]
    """``[training, grad_enabled]`` of the model at each forward call during their train()."""
    scheduler_steps: int | None
    """How many times the learning-rate scheduler we passed was stepped during their train()."""
    bptt: int
    """The window length passed; the stream's last window is shorter (bptt // 3)."""


def probe_loop(
    worker: Any,
    train_fn: str,
    model_cls: str,
    params: Any,
    opts: LMOptions,
    watch: tuple[str, ...],
) -> LoopProbe | None:
    """Run the candidate's train() on two full windows and a short last one of a stream in
    which every token is followed by the next integer (mod `PROBE_VOCAB`), with the calls of
    ``watch`` recorded and the criterion's inputs kept. None when train() cannot be called."""
    bptt = opts.bptt
    model = worker.new(model_cls, PROBE_VOCAB, 16, 2, 32, 1, 0.0)
    criterion, optimizer, scheduler = worker.run(
        "training_objects", model, 0.1, record_losses=RECORDED_LOSSES
    )
    rows = torch.arange(2 * bptt + bptt // 3 + 1).unsqueeze(1)  # (seq, 1)
    columns = PROBE_COLUMN_OFFSET * torch.arange(PROBE_COLUMNS)  # (batch,)
    data = (rows + columns) % PROBE_VOCAB  # (seq, batch): the token after x is x + 1
    bound = loop_arguments(
        params, model, data, bptt, PROBE_VOCAB, (criterion, optimizer, scheduler)
    )
    if isinstance(bound, str):
        return None
    for name in watch:
        worker.record(name)
    modes = worker.run("watch_modes", model)
    error = None
    try:
        worker.call(train_fn, *bound[0], **bound[1])
    except CandidateError as exc:
        error = exc  # what was recorded before the crash still tells
    records = {name: worker.recorded(name) for name in watch}
    for name in watch:
        worker.stop_recording(name)
    seen = worker.call_method(modes, "modes")
    stepped = worker.getattr(scheduler, "last_epoch")  # StepLR counts its step() calls
    losses = worker.run("loss_calls", criterion)
    return LoopProbe(
        records, losses, error, seen, stepped if isinstance(stepped, int) else None, bptt
    )


def evaluate_modes(
    worker: Any, eval_fn: str, model_cls: str, params: Any, opts: LMOptions
) -> tuple[list[list[bool]], CandidateError | None] | None:
    """``[training, grad_enabled]`` at each forward call of their evaluate() on a small stream,
    given a model left in training mode (as it is after a training epoch); None when it
    cannot be called."""
    bptt = opts.bptt
    model = worker.new(model_cls, PROBE_VOCAB, 16, 2, 32, 1, 0.1)
    worker.call_method(model, "train")
    objects = worker.run("training_objects", model, 0.1)
    data = torch.arange(2 * bptt + 1).unsqueeze(1).expand(-1, PROBE_COLUMNS) % PROBE_VOCAB
    bound = loop_arguments(params, model, data.contiguous(), bptt, PROBE_VOCAB, objects)
    if isinstance(bound, str):
        return None
    watch = worker.run("watch_modes", model)
    error = None
    try:
        worker.call(eval_fn, *bound[0], **bound[1])
    except CandidateError as exc:
        error = exc
    return worker.call_method(watch, "modes"), error


def modes_check(
    probe: LoopProbe | None,
    evaluated: tuple[list[list[bool]], CandidateError | None] | None,
    train_fn: str,
    eval_fn: str | None,
) -> tuple[str, str]:
    """(status, message) of ``training.modes``: their train() runs the model in training mode
    (dropout on) and leaves the per-epoch learning-rate schedule alone, their evaluate() runs
    it in eval mode (dropout off)."""
    problems, seen = [], []
    if probe is not None and probe.modes:
        seen.append(f"training mode in {train_fn}()")
        in_eval = sum(not training for training, _ in probe.modes)
        if in_eval:
            problems.append(
                f"your {train_fn}() runs the model in eval mode in {in_eval} of "
                f"{len(probe.modes)} forward calls, so dropout is off while it trains (a "
                "model.eval() in the loop, or evaluate() called without model.train() after)"
            )
    windows = len(probe.modes) if probe is not None else 0
    if probe is not None and probe.scheduler_steps is not None and probe.scheduler_steps > 1:
        problems.append(
            f"your {train_fn}() stepped the learning-rate scheduler {probe.scheduler_steps} "
            f"times in one epoch of {windows} batches: scheduler.step() sits inside the batch "
            "loop, so the learning rate decays per batch (x0.95 each) instead of per epoch"
        )
    if evaluated is not None and evaluated[0]:
        seen.append(f"eval mode in {eval_fn}()")
        in_training = sum(training for training, _ in evaluated[0])
        if in_training:
            problems.append(
                f"your {eval_fn}() runs the model in training mode in {in_training} of "
                f"{len(evaluated[0])} forward calls, so dropout is on and the validation loss is "
                "noisy and too high: call model.eval() before evaluating"
            )
    if problems:
        return "fail", "; ".join(problems)
    if not seen:
        return "skip", "no forward call of the model was seen in the candidate's loops"
    return "pass", f"the model is in {' and in '.join(seen)}"


RECORDED_LOSSES = 8
"""Criterion calls kept by `probe_loop` (it runs three windows)."""


def observe_masks(
    worker: Any,
    train_fn: str,
    model_cls: str,
    attention_fn: str | None,
    params: Any,
    opts: LMOptions,
) -> list[torch.Tensor]:
    """Run the candidate's train() on three tiny windows with their attention recorded and
    return the masks that reached it (used to find a mask built inline)."""
    target = attention_fn or f"{model_cls}.forward"
    position = 3 if attention_fn else 1  # attention(query, key, value, mask), forward(src, mask)
    probe = probe_loop(worker, train_fn, model_cls, params, opts, (target,))
    if probe is None:
        return []
    found = (mask_argument(r, position) for r in probe.records[target])
    return [m for m in found if isinstance(m, torch.Tensor)]


def targets_check(probe: LoopProbe | None, forward: str, train_fn: str) -> tuple[str, str]:
    """(status, message) of ``training.targets_aligned``: each row of logits the candidate's
    loop gives the loss must be asked for the token after the input at its position.

    Rows are matched to the model's outputs by value (the loss sees the same numbers, however
    they were reshaped), so any flattening order is judged by what it does."""
    if probe is None:
        return "skip", f"your {train_fn}() could not be called with the handout's arguments"
    forwards = [r for r in probe.records[forward] if "return" in r]
    full = sum(_window(r) == probe.bptt for r in forwards)
    if probe.error is not None:
        if full >= 2:  # both full windows went through: the short last one broke it
            return "fail", (
                f"your {train_fn}() fails on the last window of an epoch, which is shorter than "
                f"bptt ({probe.bptt // 3} tokens instead of {probe.bptt}): "
                f"{probe.error.summary()}. Cut the mask (and anything sized by bptt) to the "
                "window's own length"
            )
        return "skip", f"your {train_fn}() failed on the probe stream: {probe.error.summary()}"
    checked = wrong = unshifted = 0
    for call, (logits, targets) in zip(forwards, probe.losses, strict=False):
        matched = _match_rows(call, logits)
        if matched is None or targets.shape != (logits.size(0),):
            continue
        expected = (matched + 1) % PROBE_VOCAB  # (rows,): the token after each input
        checked += targets.numel()
        wrong += int((targets != expected).sum())
        unshifted += int((targets == matched).sum())
    if not checked:
        return "skip", (
            "the rows your loop gives the criterion could not be matched to the model's "
            "outputs, so the targets were not checked"
        )
    if not wrong:
        return "pass", (
            f"every target is the token after the input at the same position ({checked} checked)"
        )
    if unshifted == wrong:
        return "fail", (
            f"{wrong} of {checked} targets are the input tokens themselves: the model is asked "
            "to repeat its input, not to predict the next token. Shift the targets by one "
            "(target[t] = token[t + 1])"
        )
    return "fail", (
        f"{wrong} of {checked} targets are not the token after the input at the same position: "
        "the targets are not in the logits' order (for example the window was made "
        "batch-first but the targets were flattened seq-first), so each prediction is scored "
        "against another position's next token"
    )


def _window(record: dict[str, Any]) -> int | None:
    """The sequence length of a recorded forward call (its input's longer axis is the window
    in the probe: 35 tokens by 4 columns)."""
    src = argument_at(record, 0)
    return max(src.shape) if isinstance(src, torch.Tensor) and src.dim() == 2 else None


def _match_rows(record: dict[str, Any], logits: torch.Tensor) -> torch.Tensor | None:
    """For each row of ``logits`` (what the loss saw), the input token at the position of the
    model's output with the same values; None unless every row matches one."""
    out, src = record.get("return"), argument_at(record, 0)
    if not (isinstance(out, torch.Tensor) and isinstance(src, torch.Tensor)):
        return None
    if logits.dim() != 2 or tuple(out.shape[:-1]) != tuple(src.shape):
        return None
    rows = out.reshape(-1, out.size(-1))  # (positions, vocab), in the input's order
    if rows.size(-1) != logits.size(-1):
        return None
    same = (logits.unsqueeze(1) == rows.unsqueeze(0)).all(dim=-1)  # (loss rows, positions)
    if not bool(same.any(dim=1).all()):
        return None
    return src.reshape(-1)[same.float().argmax(dim=1)]  # (loss rows,)


def mask_argument(record: dict[str, Any], position: int) -> Any:
    """The mask in a recorded call (arguments by the candidate's parameter names): the
    parameter named like a mask (`roles.MASK_NAMES`), else the one at the handout's
    ``position``; None when the call had neither."""
    named = next((record[name] for name in roles.MASK_NAMES if name in record), None)
    return named if named is not None else argument_at(record, position)


def argument_at(record: dict[str, Any], position: int) -> Any:
    """The ``position``-th argument of a recorded call (``self`` not counted), or None."""
    arguments = [v for k, v in record.items() if k not in ("self", "return")]
    return arguments[position] if position < len(arguments) else None


def candidate_loop(
    worker: Any,
    opts: LMOptions,
    symbols: dict[str, str | None],
    params: Any,
    corpus: Corpus,
    config: GraderConfig,
    mask: torch.Tensor | None,
    seq_first: bool = False,
) -> tuple[TrainingRun, list[str], list[dict[str, Any]]]:
    """The candidate's own train() for a few windows of our data, then our evaluation (of a
    seq-first model through its batch-first view: their train() gets the model itself).
    Returns the run, what reached the model's forward (`mask_observations`) and each optimiser
    step as the worker's loop watch saw it (`grader.loop_watch`)."""
    bptt, batch = opts.bptt, opts.batch_size
    # As many batches as the grader's own loop: the handout's SGD at lr 5 spikes in its first
    # few dozen steps (measured: 5.9 -> 9.9 -> 5.3 nats over 50 steps on a correct model), so a
    # shorter run would judge the spike, not the loop.
    budget = config.training_budget
    # Under an epoch budget (``full``) their train() gets one whole epoch of the split.
    epoch = opts.batches_per_epoch(corpus.train.numel())
    windows = max(4, budget.steps if budget.epochs is None else epoch)
    train = batchify(corpus.train, batch)[
        : windows * bptt + 1
    ]  # (seq, batch): their loop runs `windows` batches
    model_cls, train_fn = symbols["model"], symbols["train"]
    model = new_model(worker, model_cls, corpus.vocab_size, opts)
    objects = worker.run("training_objects", model, opts.lr)
    bound = loop_arguments(
        params, model, train, bptt, corpus.vocab_size, objects, device=config.device
    )
    if isinstance(bound, str):
        return TrainingRun("candidate_loop", "skip", f"your {train_fn}(): {bound}"), [], []
    evals, held_out = eval_sets(corpus, opts, config)
    judged = worker.run("batch_first_view", model) if seq_first else model
    before = validation_loss(worker, judged, evals, mask, corpus.vocab_size)
    target = f"{model_cls}.forward"
    worker.record(target)
    watch = worker.run("watch_loop", model)  # each optimiser step: gradients reset? clipped?
    try:
        worker.call(train_fn, *bound[0], **bound[1], _timeout=config.training_budget.timeout_s)
        error = None
    except WorkerError as exc:
        error = exc
    records = worker.recorded(target)
    worker.stop_recording(target)
    steps = worker.call_method(watch, "report")
    observations = mask_observations(records, bptt)
    printed = tuple(
        line
        for line in worker.output_tail().stdout.splitlines()
        if re.search(r"loss|ppl", line, re.IGNORECASE)
    )[-5:]
    if error is not None:
        return (
            TrainingRun(
                "candidate_loop",
                "error",
                f"your {train_fn}() failed: {error.summary()}{likely_cause(error, bptt, batch)}",
                candidate_reported=printed,
                observations=tuple(observations),
            ),
            observations,
            steps,
        )
    after = validation_loss(worker, judged, held_out, mask, corpus.vocab_size)
    status, message = verdict(before, after, corpus, config)
    if status == "fail" and (plateau := frequencies_learned(before, after, corpus, config)):
        status, message = "pass", plateau
    return (
        TrainingRun(
            "candidate_loop",
            status,
            f"your {train_fn}() ran {windows} batches: {message}",
            steps=windows,
            val_loss_before=before,
            val_loss_after=after,
            curve=(CurvePoint(0, None, before), CurvePoint(windows, None, after)),
            candidate_reported=printed,
            observations=tuple(observations),
        ),
        observations,
        steps,
    )


def causal_without_mask(worker: Any, model_cls: str, seq_first: bool = False) -> bool:
    """Whether the candidate's model, called with no mask (as a loop that passes none calls
    it), keeps every position's logits independent of later tokens: a model that masks itself
    (a causal buffer sliced in forward, as nanoGPT does) is causal as called."""
    model = worker.new(model_cls, PROBE_VOCAB, 16, 2, 32, 2, 0.0)
    if seq_first:
        model = worker.run("batch_first_view", model)
    gen = torch.Generator().manual_seed(11)
    data = torch.randint(0, PROBE_VOCAB, (3, 12), generator=gen)  # (batch, seq)
    cut = data.size(1) // 2
    changed = data.clone()
    changed[:, cut:] = (data[:, cut:] + 1) % PROBE_VOCAB  # every later token differs
    before = worker.run("lm_logits", model, data, None)
    after = worker.run("lm_logits", model, changed, None)
    if not (isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor)):
        return False
    if before.shape != after.shape or before.dim() != 3:
        return False
    moved = float((before[:, :cut] - after[:, :cut]).abs().nan_to_num(float("inf")).max())
    return moved <= 1e-5 * max(1.0, float(before.abs().nan_to_num(0.0).max()))


def mask_observations(records: list[dict[str, Any]], bptt: int) -> list[str]:
    """What reached the model's forward during the candidate's loop, in sentences."""
    if not records:
        return ["the model's forward was never called"]
    masks = [mask_argument(r, 1) for r in records]
    none = sum(m is None for m in masks)
    notes = []
    if none:
        notes.append(f"no mask was passed in {none} of {len(masks)} calls of the model")
    for m, r in zip(masks, records, strict=True):
        if isinstance(m, torch.Tensor):
            src = argument_at(r, 0)
            length = int(m.shape[-1])
            style = identify(m, length)
            if isinstance(style, str):
                notes.append(f"a mask of shape {tuple(m.shape)} is not causal: {style}")
                break
            if isinstance(src, torch.Tensor) and length not in tuple(src.shape):
                notes.append(
                    f"a mask for {length} positions reached a batch of shape {tuple(src.shape)}"
                )
                break
    return notes


def likely_cause(error: WorkerError, bptt: int, batch: int) -> str:
    """A plain-words diagnosis of the usual crashes."""
    text = str(getattr(error, "message", "")) + str(error)
    sizes = {str(bptt), str(batch)}
    match = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", text)
    if match and set(match.groups()) == sizes:
        return (
            f". Likely cause: the loop feeds ({bptt}, {batch}) = (seq, batch) windows from batchify to a "
            f"batch-first model, so the sequence and batch axes are swapped (transpose the window: data.t())"
        )
    if "expected scalar type" in text or "dtype" in text:
        return ". Likely cause: a dtype mismatch (e.g. a float mask where a bool was expected, or double inputs)"
    return ""


SGD_SETTLE_STEPS = 100
"""Batches the handout's SGD (lr 5) needs to get past its first spike on a correct model
(measured: 5.9 -> 9.9 -> 5.3 nats over the first 50): a shorter run of the candidate's loop
(the smoke budget) cannot blame the loop."""


def checks_from_runs(
    task: str,
    runs: list[TrainingRun],
    observations: list[str],
    unigram: float | None,
    config: GraderConfig,
    masks_itself: bool = False,
) -> list[CheckResult]:
    """The training task's checks, from its runs (``unigram``: the corpus's context-free loss;
    ``masks_itself``: the model is causal when called without a mask, as their loop calls it)."""
    ours = next((r for r in runs if r.driver == "reference_loop"), None)
    theirs = next((r for r in runs if r.driver == "candidate_loop"), None)
    out = []
    if ours is not None:
        runs_ok = ours.status != "error"
        out.append(
            CheckResult(
                f"{task}.runs",
                task,
                "pass" if runs_ok else "error",
                "your model trains on the reference loop without errors"
                if runs_ok
                else ours.message,
            )
        )
        leaked = LEAK in ours.message
        frequencies_only = context_free(
            ours, next((r for r in runs if r.driver == "reference_model"), None), unigram, config
        )
        decreased = (ours.status == "pass" and frequencies_only is None) or leaked
        message = frequencies_only or ours.message
        out.append(
            CheckResult(
                f"{task}.loss_decreases",
                task,
                "pass" if decreased else ("error" if not runs_ok else "fail"),
                message if not decreased else f"validation loss decreased: {ours.message}",
            )
        )
        out.append(
            CheckResult(
                f"{task}.not_too_good",
                task,
                "fail" if leaked else ("pass" if runs_ok else "skip"),
                ours.message
                if leaked
                else "the validation loss stays above what an honest model can reach, "
                "and predictions do not depend on later tokens",
            )
        )
    if theirs is not None:
        message = theirs.message
        judged = (theirs.steps or 0) >= SGD_SETTLE_STEPS
        if theirs.status == "fail" and judged and ours is not None and ours.status == "pass":
            # The same model learns on our loop: what differs is their loop (zero_grad, the
            # order of clipping and stepping, the targets, the learning-rate schedule).
            message += (
                ". The grader's own loop trains the same model well "
                f"({ours.val_loss_before:.3f} -> {ours.val_loss_after:.3f}), so look at your "
                "training loop: zeroing the gradients, clipping before the step, targets shifted "
                "by one token, the learning-rate schedule"
            )
        out.append(CheckResult(f"{task}.candidate_loop", task, theirs.status, message))
        bad = [
            o
            for o in observations
            if ("no mask" in o and not masks_itself) or "not causal" in o or "reached a batch" in o
        ]
        status = (
            "skip"
            if theirs.status in ("error", "skip") and not observations
            else ("fail" if bad else "pass")
        )
        if bad:
            message = "; ".join(bad) + ": a model trained this way learns to copy the next token"
        elif status == "skip":
            message = "your training loop did not run far enough to call the model, so no mask could be observed"
        elif masks_itself and any("no mask" in o for o in observations):
            message = (
                "your loop passes no mask, and your model masks itself: called that way, its "
                "logits at a position never depend on later tokens"
            )
        else:
            message = "a causal mask covering the window reached the model in every call"
        out.append(CheckResult(f"{task}.mask_reaches_model", task, status, message))
    return out


def context_free(
    ours: TrainingRun, baseline: TrainingRun | None, unigram: float | None, config: GraderConfig
) -> str | None:
    """A sentence when the candidate's model got no further than token frequencies while the
    reference model, in the same budget, learned from context."""
    margin = config.training.context_margin_nats
    if (
        unigram is None
        or baseline is None
        or baseline.status != "pass"
        or ours.status != "pass"
        or baseline.val_loss_after is None
        or ours.val_loss_after is None
    ):
        return None
    if baseline.val_loss_after > unigram - 2 * margin or ours.val_loss_after < unigram - margin:
        return None  # the budget is too short to tell, or the model did learn from context
    return (
        f"validation loss {ours.val_loss_before:.3f} -> {ours.val_loss_after:.3f} nats/token: no lower than "
        f"{unigram:.3f}, what a model that ignores its input reaches by learning token frequencies, while the "
        f"reference model reached {baseline.val_loss_after:.3f} in the same {baseline.steps} steps. The loss did "
        "not go down beyond the context-free baseline: does the output depend on the input tokens?"
    )


def result(runs: list[TrainingRun], corpus: Corpus, config: GraderConfig) -> TrainingResult:
    statuses = [r.status for r in runs if r.driver != "reference_model"]
    status = (
        "pass"
        if statuses and all(s == "pass" for s in statuses)
        else ("error" if statuses and all(s == "error" for s in statuses) else "fail")
    )
    return TrainingResult(
        status=status,
        corpus=corpus.name,
        splits=corpus.splits,
        budget=config.budget,
        runs=tuple(runs),
        baseline_loss=corpus.unigram_entropy,
        entropy_floor=corpus.entropy_rate,
        vocab_size=corpus.vocab_size,
    )
