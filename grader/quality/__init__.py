"""Static quality analysis of a candidate's code: readability metrics and the static
optimisation and reusability findings. Nothing here executes candidate code.

    report = analyse(source, candidate_lines)
    score, evidence = readability_score(report)
    points_off, why = static_penalty(report.findings, "optimisation")

Stages, one module each: `source` (the parsed program and the candidate's lines), `lint`
(ruff), `metrics` (complexity, docstring and type-hint coverage), `spelling`, `kinds`
(tensor or module?), `optimisation`, `reusability`, `duplication`, `analyse` (runs them all)
and `scores`. Thresholds and weights are in `config.QualityConfig`.
"""

from grader.quality.analyse import QualityReport, analyse
from grader.quality.config import QualityConfig
from grader.quality.scores import readability_score, static_penalty

__all__ = ["QualityConfig", "QualityReport", "analyse", "readability_score", "static_penalty"]
