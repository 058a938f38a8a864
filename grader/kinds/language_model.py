"""The language-model task: the candidate's whole model must train and its validation loss fall.

Its checks run in two stages: first the model's properties (output layout, causality,
positional information, batch independence; `grader.checks.language_model`), then the
training check (`grader.training`): the grader's loop on the candidate's model, the
candidate's own ``train()``, the reference model as a baseline, and two probes of their loop
(targets aligned with the logits, train and eval modes). Its training step is timed against
the reference's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from grader import kinds, loop_watch, reference_side, training
from grader.checks import language_model
from grader.kinds.base import Check, Kind, TaskRun, Trained
from grader.kinds.transformer import mask_source, timing_masks, window_mask
from grader.result import CheckResult, TrainingRun
from grader.sandbox import Handle, Sandbox, WorkerError
from grader.timing import Item, Side, built
from grader.training import LMOptions

PTB_VOCAB = 10_000
"""Vocabulary of the handout's Penn Treebank: the output layer's size dominates a step, so
a step is timed at this size when no corpus was loaded."""
TRAIN_WINDOWS = 4
"""Distinct windows in the token stream a timed training step cycles through."""


def mask_observer(run: TaskRun, attention_fn: str | None) -> Callable[[], list[Any]] | None:
    """A callable that runs the candidate's own ``train()`` with the masks reaching their
    attention (or model) recorded, for finding a mask built inline; None without a model and
    a ``train()``."""
    for task in run.tasks_of_kind(LanguageModel.name):
        model, train_fn = run.symbols.get(task.id), run.part("train", task.id)
        if model and train_fn and train_fn in run.loaded:
            params = run.loaded[train_fn].params
            return lambda: training.observe_masks(
                run.worker, train_fn, model, attention_fn, params, task.options
            )
    return None


@kinds.register
class LanguageModel(Kind):
    name = "lm_training"
    title = "a language model Model(ntoken, d_model, nhead, d_hid, nlayers, dropout) that trains"
    Options = LMOptions
    symbol_kind = "class"
    parts = ("train", "evaluate")
    trains = True
    timed = True
    depends_on = ("attention", "multi_head_attention", "encoder_block", "causal_mask")
    reference_modules = ("masks", "attention", "encoder", "positional", "model")
    checks = (
        Check("model_output_shape", "logits have shape (batch, seq, vocab), batch-first"),
        Check("model_causal", "the logits at position t never depend on later tokens"),
        Check("model_uses_positions", "token order changes the output (positions reach the model)"),
        Check("model_batch_independent", "a sequence's logits do not depend on its place in the batch"),
        Check("runs", "the model trains on the grader's loop without errors"),
        Check("loss_decreases", "the held-out validation loss falls, beyond what token frequencies give"),
        Check("not_too_good", "the loss stays above what an honest model can reach, and no leak"),
        Check("candidate_loop", "their own train() lowers the validation loss"),
        Check("mask_reaches_model", "a causal mask covering the window reaches the model in their loop"),
        Check("targets_aligned", "each target their loop scores is the token after the input"),
        Check("modes", "training mode in train(), eval mode in evaluate(), the schedule per epoch"),
        Check("gradients_reset", "their train() zeroes the gradients before each backward pass"),
        Check("clipped_before_step", "their train() clips the gradients to the handout's norm before each step"),
    )  # fmt: skip

    def prepare(self, run: TaskRun) -> None:
        if run.symbol is None:
            return
        source = mask_source(run)
        try:
            seq_first = language_model.is_seq_first(run.worker, run.symbol, source)
        except WorkerError:  # the probe killed the worker: the model's own checks will say why
            run.worker.restart()
            seq_first = False
        run.shared["seq_first"] = seq_first

    def check(self, run: TaskRun) -> list[CheckResult]:
        return language_model.run(run)

    def train(self, run: TaskRun) -> Trained | None:
        if run.symbol is None:
            return None
        opts: LMOptions = run.options
        worker, config, model_cls = run.worker, run.config, run.symbol
        seq_first = bool(run.shared.get("seq_first"))
        mask = window_mask(run, opts.bptt)
        corpus = reference_side.corpus(config.data_dir, config.splits)
        run.shared["lm_vocab"] = corpus.vocab_size
        # The reference model's run (cached, else in the reference's worker) goes on while
        # the candidate's model trains in theirs.
        baseline = run.reference.alongside(
            lambda: reference_side.lm_baseline(corpus, opts, config, run.reference)
        )
        runs: list[TrainingRun] = []
        run.say(f"{run.task.id}: your model on the grader's loop")
        try:
            worker.run("reseed", config.seed)
            model = training.new_model(worker, model_cls, corpus.vocab_size, opts)
            if seq_first:
                model = worker.run("batch_first_view", model)  # our loop is batch-first
            runs.append(
                training.train_and_measure(
                    worker, model, corpus, opts, config, mask, "reference_loop"
                )
            )
        except WorkerError as exc:
            message = f"building your model failed: {exc.summary()}"
            runs.append(TrainingRun("reference_loop", "error", message))
            worker.restart()
        if not worker.alive:  # the run killed it (a timeout, a crash): the next runs need one
            worker.restart()
        observations: list[str] = []
        steps: list[dict[str, Any]] | None = None
        masks_itself = False
        train_fn = run.part("train")
        if train_fn and train_fn in run.loaded:
            run.say(f"{run.task.id}: your {train_fn}()")
            try:
                worker.run("reseed", config.seed)
                loop, observations, steps = training.candidate_loop(
                    worker,
                    opts,
                    {"model": model_cls, "train": train_fn},
                    run.loaded[train_fn].params,
                    corpus,
                    config,
                    mask,
                    seq_first,
                )
                runs.append(loop)
                if any("no mask" in o for o in observations):
                    masks_itself = training.causal_without_mask(worker, model_cls, seq_first)
            except WorkerError as exc:
                message = f"your {train_fn}() could not be run: {exc.summary()}"
                runs.append(TrainingRun("candidate_loop", "error", message))
                worker.restart()
        run.say(f"{run.task.id}: the reference model's baseline")
        runs.append(baseline.take())
        background = run.shared.setdefault("background", {})
        background[f"{run.task.id}: the reference model's baseline"] = baseline.seconds or 0.0
        checks = training.checks_from_runs(
            run.task.id, runs, observations, corpus.unigram_entropy, config, masks_itself
        )
        if train_fn and train_fn in run.loaded:
            run.say(f"{run.task.id}: probing your {train_fn}()")
            checks += loop_checks(run, model_cls, train_fn)
            checks += step_checks(run.task.id, steps, opts.clip, train_fn)
        return Trained(training.result(runs, corpus, config), checks)

    def timing_item(self, run: TaskRun, reference: Sandbox) -> Item:
        opts: LMOptions = run.options
        vocab = run.shared.get("lm_vocab") or PTB_VOCAB
        seq_first = bool(run.shared.get("seq_first"))
        theirs_mask, our_mask = timing_masks(run, opts.bptt)
        gen = torch.Generator().manual_seed(run.config.seed)
        stream = TRAIN_WINDOWS * opts.bptt + 1
        tokens = torch.randint(0, vocab, (stream, opts.batch_size), generator=gen)  # (S, B)
        sizes = (opts.d_model, opts.nhead, opts.d_hid, opts.nlayers, opts.dropout)
        w, symbol, seed = run.worker, run.symbol, run.config.seed

        def trainer(worker: Sandbox, cls: str) -> tuple[Handle, Handle]:
            worker.run("reseed", seed)
            model = worker.new(cls, vocab, *sizes)
            if seq_first and worker is w:
                model = worker.run("batch_first_view", model)  # the trainer is batch-first
            return model, worker.run("lm_trainer", model, opts.lr, opts.clip, opts.gamma)

        theirs = built(
            w, lambda: trainer(w, symbol), f"{symbol}({vocab}, {', '.join(map(str, sizes))})"
        )
        ours = trainer(reference, training.REFERENCE_MODEL)

        def check(losses: Any, calls: int) -> str | None:
            ok = isinstance(losses, list) and len(losses) == calls
            return None if ok else f"{calls} training steps did not give {calls} losses"

        def steps(worker: Sandbox, handles: tuple[Handle, Handle], mask: Any) -> Any:
            return lambda n: worker.call_method(handles[1], "steps", tokens, 0, n, opts.bptt, mask)

        return Item(
            f"training step ({opts.batch_size}×{opts.bptt} tokens, vocab {vocab})",
            Side(f"your {symbol}", w, steps(w, theirs, theirs_mask), check, theirs),
            Side("the reference model", reference, steps(reference, ours, our_mask), check, ours),
            tokens=opts.batch_size * opts.bptt,
        )

    def correct(self, checks: Sequence[CheckResult]) -> bool:
        """Timed when the model trains on the grader's loop."""
        runs = [c for c in checks if c.name.endswith(".runs")]
        return bool(runs) and all(c.status in ("pass", "skip") for c in runs)


def step_checks(
    task: str, steps: list[dict[str, Any]] | None, clip: float, train_fn: str
) -> list[CheckResult]:
    """``gradients_reset`` and ``clipped_before_step`` from each optimiser step of their own
    train() (`grader.loop_watch`); skipped when their loop did not run."""
    if steps is None:
        reason = f"your {train_fn}() did not run, so its steps could not be watched"
        verdicts = {n: ("skip", reason, None) for n in ("gradients_reset", "clipped_before_step")}
    else:
        verdicts = {
            "gradients_reset": loop_watch.gradients_reset(steps, train_fn),
            "clipped_before_step": loop_watch.clipped_before_step(steps, clip, train_fn),
        }
    return [CheckResult(f"{task}.{name}", task, *v) for name, v in verdicts.items()]


def loop_checks(run: TaskRun, model: str, train_fn: str) -> list[CheckResult]:
    """``targets_aligned`` and ``modes``: their train() on a stream whose next tokens are
    known, with what reached the loss compared with what should have
    (`training.targets_check`), and the model's mode in their train() and evaluate()."""
    worker, opts, task = run.worker, run.options, run.task.id
    eval_fn = run.part("evaluate")
    forward = f"{model}.forward"
    evaluated = None
    try:
        worker.run("reseed", 0)
        params = run.loaded[train_fn].params
        probe = training.probe_loop(worker, train_fn, model, params, opts, (forward,))
        targets = training.targets_check(probe, forward, train_fn)
        if eval_fn and eval_fn in run.loaded:
            eval_params = run.loaded[eval_fn].params
            evaluated = training.evaluate_modes(worker, eval_fn, model, eval_params, opts)
        modes = training.modes_check(probe, evaluated, train_fn, eval_fn)
    except WorkerError as exc:
        skipped = f"your {train_fn}() could not be probed: {exc.summary()}"
        targets = modes = ("skip", skipped)
        worker.restart()
    return [
        CheckResult(f"{task}.targets_aligned", task, *targets),
        CheckResult(f"{task}.modes", task, *modes),
    ]
