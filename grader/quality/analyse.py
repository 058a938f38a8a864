"""The static quality analysis of one submission: every rule and metric, run once.

`analyse` never executes the candidate's code: it parses it (``ast``, ``symtable``,
``tokenize``) and hands the text to ruff on stdin. Its `QualityReport` is what the scoring
stage reads: `grader.quality.scores` turns it into readability points and the static part of
the optimisation and reusability criteria.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.quality.config import QualityConfig
from grader.quality.duplication import duplicated_blocks
from grader.quality.lint import LintError, lint
from grader.quality.metrics import complexity_findings, docstring_coverage, type_hint_coverage
from grader.quality.optimisation import optimisation_findings
from grader.quality.reusability import reusability_findings
from grader.quality.source import Program
from grader.quality.spelling import spelling_findings
from grader.result import Finding

Metrics = dict[str, float | int | dict[str, Any]]


@dataclass(frozen=True)
class QualityReport:
    """Findings on the candidate's lines and the numbers behind the readability score."""

    findings: tuple[Finding, ...]
    """Every finding, in line order: ``ruff.*`` and ``readability.*`` (readability),
    ``opt.*`` (optimisation), ``reuse.*`` (reusability), ``quality.*`` (the analysis itself)."""
    metrics: Metrics
    """``parsed`` (1 or 0), ``code_lines``, ``ruff_available``, ``ruff_findings``,
    ``ruff_per_100_lines``, ``ruff_by_rule``, ``complexity`` (per function), ``max_complexity``,
    ``docstrings`` and ``type_hints`` (``covered``, ``total``, ``ratio``, ``missing``),
    ``misspelled`` (word -> likely spelling) and ``findings_by_criterion``."""

    def by_criterion(self, criterion: str) -> tuple[Finding, ...]:
        """The findings that inform ``criterion``."""
        return tuple(f for f in self.findings if f.criterion == criterion)


def analyse(
    source: str,
    candidate_lines: frozenset[int] | None = None,
    config: QualityConfig | None = None,
) -> QualityReport:
    """Run every static rule over ``source``, keeping findings on ``candidate_lines``
    (1-based; None means the candidate wrote every line)."""
    config = config or QualityConfig()
    try:
        program = Program.parse(source, candidate_lines)
    except SyntaxError as exc:
        finding = Finding(
            rule="quality.syntax-error",
            criterion="readability",
            message=f"The code does not parse ({exc.msg}), so it could not be analysed.",
            line=exc.lineno,
            severity="major",
        )
        return QualityReport((finding,), {"parsed": 0})

    findings: list[Finding] = []
    metrics: Metrics = {"parsed": 1, "code_lines": program.code_lines()}

    try:
        ruff = lint(program, config)
        metrics["ruff_available"] = 1
    except LintError as exc:
        ruff = []
        metrics["ruff_available"] = 0
        findings.append(
            Finding("quality.ruff-unavailable", "readability", str(exc), severity="info")
        )
    metrics["ruff_findings"] = len(ruff)
    lines = metrics["code_lines"]
    metrics["ruff_per_100_lines"] = round(100 * len(ruff) / lines, 2) if lines else 0.0
    metrics["ruff_by_rule"] = dict(Counter(f.rule.removeprefix("ruff.") for f in ruff))

    scores, complex_functions = complexity_findings(program, config)
    metrics["complexity"] = scores
    metrics["max_complexity"] = max(scores.values(), default=0)
    for name, coverage in (
        ("docstrings", docstring_coverage(program)),
        ("type_hints", type_hint_coverage(program)),
    ):
        metrics[name] = {
            "covered": coverage.covered,
            "total": coverage.total,
            "ratio": round(coverage.ratio, 3),
            "missing": list(coverage.missing),
        }
    misspelled, spelling = spelling_findings(program, config)
    metrics["misspelled"] = misspelled

    findings += [*ruff, *complex_functions, *spelling]
    for family, rules in (
        ("optimisation", optimisation_findings),
        ("reusability", reusability_findings),
        ("duplication", duplicated_blocks),
    ):
        findings += _guarded(family, rules, program, config)
    findings.sort(key=lambda f: (f.line or 0, f.criterion, f.rule))
    metrics["findings_by_criterion"] = dict(Counter(f.criterion for f in findings))
    return QualityReport(tuple(findings), metrics)


def _guarded(
    family: str,
    rules: Callable[[Program, QualityConfig], list[Finding]],
    program: Program,
    config: QualityConfig,
) -> list[Finding]:
    """``rules(program, config)``, or a note in their place when they fail on unusual code:
    a heuristic rule's bug must cost its findings, not the grading of the whole submission."""
    try:
        return rules(program, config)
    except Exception as exc:  # noqa: BLE001 - any failure of a rule is reported, not raised
        message = f"The {family} rules failed on this code ({exc!r}); their findings are missing."
        return [Finding("quality.rule-failed", "readability", message, severity="info")]
