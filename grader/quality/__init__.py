"""Static quality analysis of a candidate's code: readability metrics and the static
optimisation and reusability findings. Nothing here executes candidate code.

    report = analyse_submission(sub, extracted, handout_source)  # definitions + top-level code
    report = analyse(source, candidate_lines)                    # or any program text
    score, evidence = readability_score(report)                  # report.metrics: the numbers
    points_off, why = static_penalty(report.findings, "optimisation")

Stages, one module each: `source` (the parsed program and the candidate's lines), `toplevel`
(the notebook's top-level code put back after the definitions), `lint` (ruff), `metrics`
(complexity, docstring and type-hint coverage, the named metrics), `spelling`, `comments`
(commented-out code), `kinds` (tensor or module?), `optimisation`, `reusability`,
`duplication`, `analyse` (runs them all) and `scores`. Thresholds and weights are in
`config.QualityConfig`.
"""

from grader.config import QualityConfig
from grader.quality.analyse import QualityReport, analyse, analyse_submission
from grader.quality.metrics import READABILITY_METRICS
from grader.quality.scores import readability_score, static_penalty
from grader.quality.toplevel import ReviewedProgram, review_program

__all__ = [
    "READABILITY_METRICS",
    "QualityConfig",
    "QualityReport",
    "ReviewedProgram",
    "analyse",
    "analyse_submission",
    "readability_score",
    "review_program",
    "static_penalty",
]
