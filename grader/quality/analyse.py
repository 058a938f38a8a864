"""The static quality analysis of one submission: every rule and metric, run once.

`analyse` never executes the candidate's code: it parses it (``ast``, ``symtable``,
``tokenize``) and hands the text to ruff on stdin. Its `QualityReport` is what the scoring
stage reads: `grader.quality.scores` turns it into readability points and the static part of
the optimisation and reusability criteria.

`analyse_submission` is the entry point for a graded submission: it reviews the notebook's
top-level code as well as its definitions (`grader.quality.toplevel`), so a mistake in a
data or training cell that the worker never runs is still found. Its report's ``source`` and
``candidate_lines`` are the program its findings' line numbers refer to; lines up to the end
of the extracted program are the extracted program's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from grader.config import QualityConfig
from grader.intake.extract import Extracted
from grader.intake.submission import Submission
from grader.quality.comments import commented_out_code
from grader.quality.duplication import duplicated_blocks
from grader.quality.lint import LintError, lint
from grader.quality.metrics import complexity_findings, docstring_coverage, type_hint_coverage
from grader.quality.optimisation import optimisation_findings
from grader.quality.reusability import reusability_findings
from grader.quality.source import Program
from grader.quality.spelling import spelling_findings
from grader.quality.toplevel import review_program
from grader.result import Finding

PERCENT = 100.0


@dataclass(frozen=True)
class QualityReport:
    """Findings on the candidate's lines and the numbers behind the readability score."""

    findings: tuple[Finding, ...]
    """Every finding, in line order: ``ruff.*`` and ``readability.*`` (readability),
    ``opt.*`` (optimisation), ``reuse.*`` (reusability), ``quality.*`` (the analysis itself)."""
    metrics: dict[str, float]
    """The named readability metrics (keys and labels in
    `grader.quality.metrics.READABILITY_METRICS`); empty when the code does not parse."""
    details: dict[str, Any] = field(default_factory=dict)
    """What the evidence is written from: ``parsed`` and ``ruff_available`` (bools),
    ``ruff_by_rule`` (code -> count), ``complexity`` (function -> score), ``docstrings`` and
    ``type_hints`` (``covered``, ``total``, ``ratio``, ``missing``), ``misspelled`` (word ->
    likely spelling) and ``findings_by_criterion``."""
    source: str = ""
    """The program the findings' line numbers refer to."""
    candidate_lines: frozenset[int] = frozenset()
    """Its lines the candidate wrote."""

    def by_criterion(self, criterion: str) -> tuple[Finding, ...]:
        """The findings that inform ``criterion``."""
        return tuple(f for f in self.findings if f.criterion == criterion)


def analyse_submission(
    sub: Submission,
    extracted: Extracted,
    handout_source: str = "",
    config: QualityConfig | None = None,
) -> QualityReport:
    """`analyse` the extracted program with the submission's top-level code put back after
    it (`grader.quality.toplevel.review_program`); each finding also says where its line is
    in the file as handed in (``Finding.where``)."""
    program = review_program(sub, extracted, handout_source)
    report = analyse(program.source, program.candidate_lines, config)
    located = tuple(
        replace(f, where=where_in_file(sub, program.line_map, f.line)) for f in report.findings
    )
    return replace(report, findings=located)


def where_in_file(
    sub: Submission, line_map: dict[int, tuple[int, int]], line: int | None
) -> str | None:
    """Program line ``line`` as the candidate finds it in their file: ``line N`` of a text
    file, ``cell C, line N`` of a notebook (whose lines are JSON); None when it is not mapped."""
    if line is None or line not in line_map:
        return None
    index, in_cell = line_map[line]
    if sub.format == "ipynb":
        return f"cell {index}, line {in_cell}"
    return f"line {sub.cells[index].line_offset + in_cell}"


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
        lines = frozenset(candidate_lines or ())
        return QualityReport((finding,), {}, {"parsed": False}, source, lines)

    findings: list[Finding] = []
    details: dict[str, Any] = {"parsed": True}
    try:
        ruff = lint(program, config)
        details["ruff_available"] = True
    except LintError as exc:
        ruff = []
        details["ruff_available"] = False
        findings.append(
            Finding("quality.ruff-unavailable", "readability", str(exc), severity="info")
        )
    details["ruff_by_rule"] = dict(Counter(f.rule.removeprefix("ruff.") for f in ruff))
    scores, complex_functions = complexity_findings(program, config)
    details["complexity"] = scores
    coverages = {
        "docstrings": docstring_coverage(program),
        "type_hints": type_hint_coverage(program),
    }
    for name, coverage in coverages.items():
        details[name] = {
            "covered": coverage.covered,
            "total": coverage.total,
            "ratio": round(coverage.ratio, 3),
            "missing": list(coverage.missing),
        }
    misspelled, spelling = spelling_findings(program, config)
    details["misspelled"] = misspelled
    commented = commented_out_code(program)

    findings += [*ruff, *complex_functions, *spelling, *commented]
    for family, rules in (
        ("optimisation", optimisation_findings),
        ("reusability", reusability_findings),
        ("duplication", duplicated_blocks),
    ):
        findings += _guarded(family, rules, program, config)
    findings.sort(key=lambda f: (f.line or 0, f.criterion, f.rule))
    details["findings_by_criterion"] = dict(Counter(f.criterion for f in findings))

    lines = program.code_lines()
    metrics: dict[str, float] = {
        "code_lines": lines,
        "ruff_findings": len(ruff),
        "ruff_per_100_lines": round(PERCENT * len(ruff) / lines, 2) if lines else 0.0,
        "mean_complexity": round(sum(scores.values()) / len(scores), 2) if scores else 0.0,
        "max_complexity": max(scores.values(), default=0),
        "docstring_coverage_pct": round(PERCENT * coverages["docstrings"].ratio, 1),
        "type_hint_coverage_pct": round(PERCENT * coverages["type_hints"].ratio, 1),
        "misspelled_identifiers": len(misspelled),
        "commented_out_code": len(commented),
    }
    return QualityReport(tuple(findings), metrics, details, source, program.candidate_lines)


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
