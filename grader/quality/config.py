"""Thresholds and weights of the static quality analysis, each with the reason for its default.

The lead will move `QualityConfig` into `grader/config.py`; until then it lives here. Where
`grader.config.ScoringConfig` already holds a number (finding costs, the ruff weight, the
complexity threshold) the default is read from there, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.config import ScoringConfig

_SCORING = ScoringConfig()


@dataclass(frozen=True)
class QualityConfig:
    """Everything `grader.quality` measures against."""

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
