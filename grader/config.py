"""Every tunable number of the grader, in one place, with the reason for its default.

Stages read their settings from a `GraderConfig`; nothing else in `grader/` hard-codes a
limit, a weight or a threshold. Each section is a frozen dataclass so a run's settings can
be written into `result.json` and a grade reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Budget = Literal["smoke", "quick", "standard", "thorough", "full"]


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of the worker process that runs candidate code."""

    cpu_seconds: int = 600
    """RLIMIT_CPU: CPU seconds for the whole worker. Generous enough for a quick training run
    on two cores; an infinite loop still dies."""
    memory_bytes: int = 6 * 1024**3
    """RLIMIT_AS: address space. torch on CPU needs about 1.5 GB of address space after import;
    6 GB leaves room for a (20, 35, 10000) logits tensor and its gradients, and stops a
    50 GB allocation at once."""
    max_processes: int = 64
    """RLIMIT_NPROC for the unprivileged worker user: torch's thread pool fits, a fork bomb
    does not."""
    file_size_bytes: int = 64 * 1024**2
    """RLIMIT_FSIZE: largest file the candidate may write in the scratch directory."""
    open_files: int = 256
    """RLIMIT_NOFILE."""
    scratch_bytes: int = 256 * 1024**2
    """Size of the tmpfs scratch directory."""
    check_call_timeout_s: float = 10.0
    """Wall-clock limit of one call a property check makes (a forward pass of a small module
    on a few tokens takes milliseconds): a call that outlasts it marks the task's code as
    hanging, and its other checks are skipped rather than each waiting as long again."""
    call_timeout_s: float = 30.0
    """Wall-clock limit of one RPC call (one forward pass, one check's batch of calls)."""
    startup_timeout_s: float = 60.0
    """Wall-clock limit for the worker to start and load the submission (torch import ~3 s)."""
    submission_timeout_s: float = 900.0
    """Wall-clock limit for everything one submission runs in its worker."""
    max_message_bytes: int = 512 * 1024**2
    """Largest message (header + tensor buffers) accepted from the worker."""
    max_output_bytes: int = 256 * 1024
    """Candidate stdout/stderr kept for the report; the rest is counted and dropped."""
    threads: int = 1
    """torch intra-op threads inside the worker: one, so parallel workers do not fight and
    timings are stable."""


@dataclass(frozen=True)
class TrainingBudget:
    """Size of a training check for one budget."""

    steps: int
    """Optimiser steps of the candidate's model on the grader's loop (ignored when ``epochs``
    is set)."""
    eval_every: int
    """Steps between two validation measurements (the curve's resolution)."""
    eval_windows: int
    """Validation windows (or batches) the grader scores each time (fixed, chosen by the grader)."""
    timeout_s: float
    """Wall-clock limit of the whole training check."""
    epochs: int | None = None
    """Train this many passes over the training data instead of ``steps`` (``full``: the
    test's own schedule). A kind turns it into steps with `steps_for`, since only it knows
    how many batches make an epoch."""

    def steps_for(self, batches_per_epoch: int) -> int:
        """Optimiser steps of a run: ``epochs`` passes of ``batches_per_epoch`` batches when
        the budget counts epochs, else ``steps``."""
        if self.epochs is None:
            return self.steps
        return self.epochs * max(1, batches_per_epoch)


@dataclass(frozen=True)
class BudgetProfile:
    """Everything one ``--budget`` decides, in one object: how many Hypothesis examples each
    property gets and how long the training checks run."""

    name: Budget
    examples: int
    """Examples per property (after the explicit edge cases)."""
    training: TrainingBudget
    """Training steps (or epochs), curve resolution and time limit."""
    is_grade: bool = True
    """False for ``smoke``: too few examples and steps to be trusted as a grade."""


BUDGETS: dict[str, BudgetProfile] = {
    # smoke: checks that the grader itself works end to end (its own CI), not the candidate:
    # too few examples and training steps to be trusted as a grade.
    "smoke": BudgetProfile(
        "smoke",
        examples=3,
        training=TrainingBudget(steps=10, eval_every=5, eval_windows=2, timeout_s=60),
        is_grade=False,
    ),
    # quick: every bug of the catalogue is caught at 12 examples (tests assert it); 22 gives
    # the ~500 examples a submission the benchmark asks for, at almost no cost (measured: 520
    # examples in 27.3 s against 290 in 27.6 s; the worker round trips dominate). ~150 steps
    # of the test's model is what two CPU cores do in well under a minute.
    "quick": BudgetProfile(
        "quick",
        examples=22,
        training=TrainingBudget(steps=150, eval_every=25, eval_windows=8, timeout_s=240),
    ),
    "standard": BudgetProfile(
        "standard",
        examples=40,
        training=TrainingBudget(steps=600, eval_every=50, eval_windows=16, timeout_s=900),
    ),
    "thorough": BudgetProfile(
        "thorough",
        examples=100,
        training=TrainingBudget(steps=600, eval_every=50, eval_windows=16, timeout_s=900),
    ),
    # full: the test's own number of epochs (10 for the transformer test), meant for a GPU.
    "full": BudgetProfile(
        "full",
        examples=100,
        training=TrainingBudget(
            steps=0, eval_every=200, eval_windows=64, timeout_s=6 * 3600, epochs=10
        ),
    ),
}
"""The budgets ``--budget`` offers, cheapest first."""


@dataclass(frozen=True)
class CheckBudget:
    """How many Hypothesis examples each property gets (a view of `BudgetProfile`)."""

    examples: int
    deadline_s: float | None = None
    """Per-example deadline; None because the worker's own call timeout already bounds it."""


CHECK_BUDGETS: dict[str, CheckBudget] = {n: CheckBudget(b.examples) for n, b in BUDGETS.items()}
TRAINING_BUDGETS: dict[str, TrainingBudget] = {n: b.training for n, b in BUDGETS.items()}


@dataclass(frozen=True)
class TrainingThresholds:
    """When a training run counts as having learned, or as too good to be true."""

    min_relative_drop: float = 0.05
    """The validation loss must fall by at least 5 % of its starting value. Measured on the
    same fixed windows before and after, the noise between two evaluations of an unchanged
    model is zero; 5 % is far beyond what re-initialisation variance explains."""
    min_absolute_drop: float = 0.1
    """...and by at least 0.1 nats/token."""
    leak_margin_nats: float = 0.25
    """A validation loss this far below the corpus's entropy floor (synthetic) means the model
    sees future tokens: no honest model can beat the floor."""
    context_margin_nats: float = 0.1
    """A model that ignores its input can still lower the loss, to the unigram baseline, by
    learning token frequencies. When the reference model beats that baseline by more than
    this in the same budget (so the budget is long enough to learn from context), a
    candidate's model that does not beat it by this much counts as not going down."""


@dataclass(frozen=True)
class TimingConfig:
    """Interleaved timings of the candidate against the reference."""

    repeats: int = 7
    """Rounds of (candidate, reference) measurements; the median of 7 is robust to one outlier."""
    min_round_s: float = 0.05
    """Each round runs enough calls to last at least this long, so timer resolution is moot."""
    bands: tuple[tuple[float, float], ...] = ((1.2, 100.0), (1.6, 85.0), (2.5, 70.0), (5.0, 50.0))
    """(max ratio candidate/reference, score): within 1.2x of the reference is full marks.
    Bands, not a formula, so that measurement noise does not move the grade."""
    slowest_score: float = 30.0
    """Score when the candidate is slower than the last band."""
    output_rtol: float = 1e-4
    output_atol: float = 1e-5
    """Tolerance of the output check of every timed round (float32, the timed size): an
    honest implementation differs from the reference by rounding (~1e-6 measured on the
    handout's attention), a cheap wrong answer by the size of the values themselves."""


@dataclass(frozen=True)
class ScoringConfig:
    """How the four criteria are combined and what findings cost."""

    criterion_weights: dict[str, float] = field(
        default_factory=lambda: {
            # The test lists how far the candidate got first; it is what the role needs most.
            "completion": 0.45,
            "optimisation": 0.2,
            "reusability": 0.15,
            "readability": 0.2,
        }
    )
    """Weights of the four criteria in the overall grade; an assignment may override them."""
    finding_cost: dict[str, float] = field(
        default_factory=lambda: {"info": 0.0, "minor": 4.0, "major": 10.0}
    )
    """Points a static finding takes off its criterion, by severity."""
    failed_generality_cost: float = 25.0
    """Reusability points off per failed generality check (another size, length, head count,
    dtype or a default of the signature): each is code that breaks the moment it is reused."""
    readability_per_100_lines: float = 3.0
    """Points off readability per ruff finding per 100 candidate lines."""
    max_complexity: int = 10
    """Cyclomatic complexity above which a function is flagged (McCabe's own threshold)."""


_SCORING = ScoringConfig()


@dataclass(frozen=True)
class QualityConfig:
    """Everything `grader.quality` measures against. Where `ScoringConfig` already holds a
    number (finding costs, the ruff weight, the complexity threshold) the default is read
    from there, so the two never disagree."""

    # --- ruff ---------------------------------------------------------------------------

    ruff_select: tuple[str, ...] = ("N", "B", "SIM", "UP", "F", "C4", "E7")
    """Rule families run over the candidate's code: naming (N), likely bugs (B), needless
    complexity (SIM), outdated idioms (UP), unused names (F), comprehensions (C4) and
    statement style (E7). Complexity and docstrings are measured by this package itself
    (see `max_complexity`, `docstring_weight`), so C90 and D are not selected twice."""
    ruff_ignore: tuple[str, ...] = (
        "B018",  # a bare expression is how a notebook displays a value, not a mistake
        "B006",  # mutable defaults are a reusability finding (reuse.mutable-default)
        "B905",  # zip(strict=) is a 3.10 nicety, not a readability problem
        "E402",  # imports below code are normal in a notebook exported to one program
        "E501",  # line length says nothing about a notebook author
        "E703",  # a trailing semicolon is how a notebook hides a cell's output
        "N803",  # capitals for matrices (Q, K, V, X) follow the paper's notation
        "N806",  # ... the same for local variables
        "N812",  # `import torch.nn.functional as F` is the universal convention
        "F401",  # unused imports, undefined names and redefinitions depend on which cells
        "F811",  # the intake kept, not on the candidate: a dropped cell would make them
        "F821",  # spurious
    )
    """Rules that say nothing about the candidate in an extracted notebook program."""
    ruff_target_version: str = "py38"
    """Oldest Python the candidate may assume: ``typing.Optional``/``Tuple`` (the handout's
    own style) stay acceptable, while ``super(Cls, self)`` or ``"{}".format`` are flagged."""
    ruff_timeout_s: float = 30.0
    """ruff checks a notebook in milliseconds; 30 s only guards against a hung binary."""

    # --- readability --------------------------------------------------------------------

    ruff_cost_per_100_lines: float = _SCORING.readability_per_100_lines
    """Points off readability for each ruff finding per 100 candidate code lines."""
    min_lines_for_density: int = 50
    """Findings are counted per at least this many lines, so that one slip in a 10-line
    answer does not cost a third of the score."""
    max_ruff_penalty: float = 40.0
    """Most points ruff findings can take: style alone never sinks readability."""
    max_complexity: int = _SCORING.max_complexity
    """Cyclomatic complexity above which a function is flagged (McCabe's own threshold)."""
    complexity_cost: float = 5.0
    """Points off per function above `max_complexity`: each one is hard to follow."""
    max_complexity_penalty: float = 20.0
    """Most points complexity can take."""
    docstring_weight: float = 15.0
    """Points lost when none of the candidate's public definitions has a docstring (scaled
    by the share that lack one): the test asks for readable code, and a docstring is the
    first thing a reader looks for."""
    type_hint_weight: float = 10.0
    """Points lost when no parameter or return is annotated (scaled by the share missing):
    hints document shapes and types, but many good notebooks omit some, so they weigh less."""
    spelling_cost: float = 2.0
    """Points off per misspelled word in an identifier: a reader trips on it every use."""
    max_spelling_penalty: float = 10.0
    """Most points spelling can take."""
    commented_code_cost: float = 2.0
    """Points off per block of commented-out code: one leftover is a nit, several are a
    notebook nobody cleaned up."""
    max_commented_code_penalty: float = 6.0
    """Most points commented-out code can take."""
    min_word_length: int = 5
    """Shorter identifier words are mostly abbreviations (``dim``, ``src``, ``succ``, ``curr``)
    that a dictionary does not know and a reader does."""
    spelling_distance_long: int = 2
    """Edit distance to a dictionary word at which a long word counts as misspelled."""
    long_word_length: int = 8
    """Words at least this long may be two edits from their correct spelling; shorter words
    must be one edit away (two edits turn ``logits`` into ``lots``)."""

    # --- optimisation and reusability -----------------------------------------------------

    finding_cost: dict[str, float] = field(default_factory=lambda: dict(_SCORING.finding_cost))
    """Points a static finding takes off its criterion, by severity."""
    max_findings_per_rule: int = 3
    """Each rule counts at most this many times: one habit repeated is one lesson, and it
    should not wipe out a criterion the behavioural evidence also informs."""
    max_static_penalty: float = 60.0
    """Most points static findings can take off optimisation or reusability."""
    allowed_numbers: tuple[float, ...] = (-1, 0, 1, 2, 3)
    """Literals that are never magic: the last axis (-1), identities (0, 1), pairs and halves
    (2), and query/key/value (3, as in a fused ``nn.Linear(dim, 3 * dim)`` and its
    ``chunk(3)``)."""
    unit_factors: tuple[float, ...] = (60, 100, 1000, 1024, 1e6, 1e9)
    """Factors allowed in ``*``, ``/``, ``//`` and ``**``: unit conversions (minutes, percent,
    milliseconds, kibibytes), not settings."""
    axis_methods: tuple[str, ...] = (
        "permute", "transpose", "swapaxes", "movedim", "unsqueeze", "squeeze", "size",
        "flatten", "unflatten", "softmax", "log_softmax", "cat", "stack", "sum", "mean",
        "max", "min", "argmax", "argmin", "norm", "cumsum", "select",
    )  # fmt: skip
    """Methods whose integer arguments are axes, not sizes (``x.transpose(1, 3)``)."""
    free_keywords: tuple[str, ...] = ("dim", "dims", "axis", "start_dim", "end_dim", "stacklevel")
    """Keyword arguments whose numbers are axes or bookkeeping (``warn(stacklevel=3)``), not
    sizes or settings."""
    min_duplicate_lines: int = 3
    """A repeated block must span at least this many lines to be flagged: two similar lines
    (three projections side by side) are clearer written out than hidden in a helper."""
    min_duplicate_statements: int = 3
    """... and hold at least this many statements, counting those nested inside."""
    duplicates_at_module_level: bool = False
    """Whether copies outside any function count. Off: a notebook re-runs set-up in a later
    cell (a one-batch trial, then the real run), which says little about reuse; a block
    copied between functions does."""


@dataclass(frozen=True)
class AnswerConfig:
    """How written answers are found and scored."""

    misconception_penalty: float = 0.1
    """Taken off the suggested score (0..1) per distinct misconception flagged. Half a point
    of a five-point rubric: the flag and its quote are shown to the human, who decides; a
    pattern that flags by mistake must not sink an otherwise good answer."""
    min_words: int = 4
    """An answer with fewer words cannot state a point and its reason ("See above.",
    "O(n^2)."): it scores 0 and the note says why."""
    min_sentence_words: int = 5
    """Words a sentence needs to earn a rubric point (`grader.answers.prose`): "O(n^2)
    memory." states nothing an interviewer can credit; "Memory grows as O(n^2)." (4 words)
    neither, "Memory grows as O(n^2) per head." does."""
    min_function_words: int = 1
    """Small words ("is", "the", "and") a sentence needs to earn a point: a run of terms
    has none, "O(n^2 d) compute and O(n^2) memory." has one."""
    min_function_share: float = 0.15
    """Their least share of the sentence's words: measured 0.24-0.5 on the model answers and
    the seeds' sentences that earn points, 0-0.1 on lists of terms."""
    list_items: int = 4
    """A sentence of at least this many comma-separated items, three quarters of them three
    words or fewer, is a list of terms and earns no point."""
    max_quotes: int = 2
    """Sentences quoted per rubric point: the first is the evidence, a second shows it was
    not a slip of the pen; more would repeat the answer."""
    fallback_min_points: int = 2
    """With no question heading or repeated prompt, a prose cell is taken as the answer only
    when it earns at least this many distinct rubric points: one point is what any cell on
    the topic earns by chance."""
    max_answer_chars: int = 20_000
    """Only this much of an answer (or of a prose block tried as one) is scored: an essay
    answer is a few thousand characters, and a pasted log of megabytes must not stall a
    batch (matching costs about 3 µs a character). The whole answer is still shown."""
    anchor_coverage: float = 0.5
    """Share of the prompt's content words a line must repeat to count as the question
    asked again (a paraphrased heading repeats half of them)."""
    task_pass_score: float = 0.5
    """A written answer's task (``question:<id>`` in result.json) passes at this suggested
    score: half the rubric's points, an answer that makes the core of what was asked and
    some of the rest; below it the task fails, unanswered it is missing. The score itself
    counts in completion once, through the answer."""


DEFAULT_ANSWERS = AnswerConfig()
"""The default written-answer settings, for functions that take them as an argument."""


@dataclass(frozen=True)
class TrustConfig:
    """Bounds on what the grader reads that a candidate (or anyone between the grader and the
    reader) may have written: result files merged by ``summary``, re-rendered by ``report``
    and checked by ``verify``, and the signing keys (grader/signing.py)."""

    max_result_bytes: int = 64 * 1024**2
    """Largest ``result.json`` (or ``summary.json``) read. A result holds the candidate's
    extracted code (a submission is at most 20 MB, ``grader.intake.load``) and its checks;
    real ones are tens of kB, so 64 MB only refuses a file made to exhaust memory."""
    max_json_depth: int = 64
    """Deepest nesting of objects and arrays accepted in a result file. The grader's own
    results nest about 8 deep (a counterexample inside a check inside a task); deeper JSON
    is made to crash a recursive reader, and is refused with a message instead."""
    min_signing_key_bytes: int = 32
    """Shortest HMAC key accepted: 32 bytes is SHA-256's own strength (``openssl rand -hex 32``
    gives 64 characters). A short key could be guessed offline from one signed result."""


TRUST = TrustConfig()
"""The trust bounds in force (grader/signing.py, grader/report/merge.py)."""


@dataclass(frozen=True)
class IntakeLimits:
    """How a submission that is a folder or an archive is taken in (`grader.intake.units`,
    `grader.intake.archive`). An archive is untrusted input the grader itself unpacks, in
    the grading process, before any sandbox: these limits are what keep a hostile archive
    from filling the disk or the memory."""

    main: str | None = None
    """``--main``: the file (name or glob, e.g. ``solution.ipynb`` or ``*.ipynb``) that is the
    candidate's main file in a folder or archive; None = chosen by the rule in
    `grader.intake.units` (most task symbols defined, then notebooks first)."""
    max_archive_bytes: int = 50 * 1024**2
    """Largest archive file read: a zipped folder of notebooks and modules is a few MB; 50 MB
    leaves room for plots and a small data file and refuses a dataset or checkpoint."""
    max_unpacked_bytes: int = 100 * 1024**2
    """Most bytes an archive may unpack to, counted as they are written (not as declared):
    a zip bomb stops here with a clear error instead of filling the disk."""
    max_file_bytes: int = 20 * 1024**2
    """Largest single file unpacked (the largest submission file read, see
    `grader.intake.load.DEFAULT_MAX_BYTES`)."""
    max_files: int = 500
    """Most entries (files and folders) an archive may hold, or a folder may show: a
    candidate's project is tens of files; a million tiny files is an attack on the inodes."""
    max_ratio: float = 100.0
    """Largest compression ratio (unpacked / packed bytes) of a member or of the whole
    archive. Source and notebooks compress 3-10x, repeated text up to ~50x; a zip bomb is
    at 1000x or more."""
    max_depth: int = 12
    """Deepest folder nesting looked into (a project is 2-4 levels deep)."""


@dataclass(frozen=True)
class ReportLimits:
    """How much of what a submission or a worker says a result and its reports keep.

    A notebook with 5,000 extra cells made a 14 MB scorecard, a 200,000-line string
    constant a 35 MB one: a page that size is slow to open, to attach, to upload as a CI
    artifact. Every string from the candidate is cut at a per-field limit and every list at
    an item limit (`grader.bounded`), each cut saying what it left out; a report that still
    comes out above ``report_bytes`` is rendered again with every limit halved, so no report
    file exceeds it whatever the input."""

    field_chars: int = 20_000
    """Characters kept of any one string (an answer, a message, a traceback): a long essay
    answer is a few thousand characters, a worker's message is cut at 2,000 already."""
    message_chars: int = 2_000
    """Characters of one message in the JUnit file and the Markdown summary, which are read
    in CI pages one line per check: the scorecard and result.json keep the rest."""
    items: int = 300
    """Entries kept of any one list (findings, skipped statements, losses the candidate
    printed, notebook facts): ten times what a real submission produces."""
    depth: int = 12
    """Levels of nested dicts and lists kept in the free-form parts of a result (intake,
    environment, counterexamples): the grader writes at most four."""
    source_chars: int = 1_000_000
    """Characters of the extracted source kept in result.json: the longest real submission
    seen here is ~40,000; a megabyte of code is data pasted into a cell."""
    source_lines: int = 20_000
    """Lines of the extracted source kept in result.json (with the lines the candidate
    wrote among them)."""
    shown_source_chars: int = 150_000
    """Characters of source the scorecard shows, highlighted (each character can become a
    ~25-byte span, so this is the part of the page the budget depends on); the rest is
    announced with a link to result.json."""
    shown_source_lines: int = 5_000
    """Lines of source the scorecard shows."""
    line_chars: int = 1_000
    """Characters shown of one source line on the scorecard (a minified line or a data
    literal on one line is cut, with a note)."""
    report_bytes: int = 4_000_000
    """Largest report file (scorecard, result.json, JUnit, Markdown): under the 5 MB that
    mail servers, CI artifact viewers and browsers handle without trouble."""

    def scaled(self, factor: float) -> ReportLimits:
        """Every size limit multiplied by ``factor`` (at least 1); ``depth`` and
        ``report_bytes`` stay."""
        sizes = {
            name: max(1, int(getattr(self, name) * factor))
            for name in self.__dataclass_fields__
            if name not in ("depth", "report_bytes")
        }
        return replace(self, **sizes)


DEFAULT_REPORT_LIMITS = ReportLimits()
"""The default report limits, for functions called outside a grading run (``grader report``)."""

NOTEBOOK_MAX_DEPTH = 100
"""Nesting levels of a notebook's JSON that intake parses; deeper values are dropped (and the
submission told). nbformat itself nests six levels, widget state a dozen more; Python's JSON
parser raises RecursionError near 1,000, which crashed intake on metadata nested 100,000 deep."""


@dataclass(frozen=True)
class CalibrationConfig:
    """How the overall grade ranks submissions the way a careful interviewer would
    (`grader.calibration`, issue 17). Measured before it on the example, catalogue and seed
    submissions at the quick budget: those that read the future, fail training or miss a task
    scored 39.1-90.7 (11 of 13 above 70.7, the lowest fully working submission; working ones
    scored 70.7-100), because the criteria average a fatal bug away."""

    critical_cap: float = 50.0
    """The most a submission with a critical failure of its own (it reads the future, its
    training task fails or crashes, a task is missing) can score: below every fully working
    submission measured (the lowest, 70.7, is typical.py) by more than the 15 points the
    issue asks, and at what an interviewer would call "does not work"."""
    future_checks: tuple[str, ...] = ("causal", "model_causal", "not_too_good")
    """Check properties (the part after ``task.``) whose failure means the model reads future
    tokens: the causality checks and the loss below what a causal model can reach."""
    quality_criteria: tuple[str, ...] = ("optimisation", "reusability", "readability")
    """Criteria weighted by how much of the work is correct (the code tasks' weighted share
    of checks passed): clean code that does not work cannot outrank working code."""


@dataclass(frozen=True)
class GraderConfig:
    """All settings of one grading run."""

    budget: Budget = "quick"
    """How hard to look: example counts, training steps and timeouts follow from it."""
    seed: int = 0
    """Seed for Hypothesis (derandomized), torch in the worker and the synthetic corpus."""
    device: Literal["cpu", "cuda"] = "cpu"
    """Where the candidate's model runs."""
    data_dir: str | None = None
    """A directory holding ``ptb.<split>.txt`` (e.g. ../shared/data/ptb); None = synthetic."""
    splits: tuple[str, str] = ("train", "valid")
    """(training split, validation split) for the training check."""
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    training: TrainingThresholds = field(default_factory=TrainingThresholds)
    timing: TimingConfig = field(default_factory=TimingConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    answers: AnswerConfig = field(default_factory=AnswerConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    intake: IntakeLimits = field(default_factory=IntakeLimits)
    reports: ReportLimits = field(default_factory=ReportLimits)
    training_override: TrainingBudget | None = None
    """Replaces the budget's training size (steps, curve resolution, time limit), for a run
    longer than ``full`` on a fast GPU or a deliberately short one; None = the budget's."""

    @property
    def profile(self) -> BudgetProfile:
        """The budget's profile, with ``training_override`` applied."""
        profile = BUDGETS[self.budget]
        if self.training_override is not None:
            profile = replace(profile, training=self.training_override)
        return profile

    @property
    def checks(self) -> CheckBudget:
        return CheckBudget(self.profile.examples)

    @property
    def training_budget(self) -> TrainingBudget:
        return self.profile.training

    def with_(self, **changes: object) -> GraderConfig:
        return replace(self, **changes)
