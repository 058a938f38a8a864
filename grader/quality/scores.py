"""Points from static evidence: the readability score, and what static findings cost the
optimisation and reusability criteria.

Readability is static only, so `readability_score` gives the whole 0..100 score. Optimisation
and reusability also rest on behaviour (timings, generality checks); the scoring stage
combines those with `static_penalty`. Every point lost comes with a sentence saying why.

The numbers behind readability are `QualityReport.metrics`, a flat ``str -> number`` dict
with stable keys, labelled by `grader.quality.metrics.READABILITY_METRICS` (the scorecard
shows them under the criterion): ``code_lines``, ``ruff_findings``, ``ruff_per_100_lines``,
``mean_complexity``, ``max_complexity``, ``docstring_coverage_pct``,
``type_hint_coverage_pct``, ``misspelled_identifiers`` and ``commented_out_code``.
"""

from __future__ import annotations

from collections import defaultdict

from grader.config import QualityConfig
from grader.quality.analyse import QualityReport
from grader.result import Finding

FULL_MARKS = 100.0
"""Readability starts here and loses points."""
SHOWN_MISSING = 5
"""Names of undocumented definitions (or unannotated parameters) the evidence lists."""


def readability_score(
    report: QualityReport, config: QualityConfig | None = None
) -> tuple[float, list[str]]:
    """Readability, 0..100, and the evidence for each point lost (or kept).

    Starts from 100 and takes off, each part capped: ruff findings per 100 candidate code
    lines, functions above the complexity threshold, the share of public definitions without
    a docstring, the share of parameters and returns without a type hint, misspelled
    identifier words, and blocks of commented-out code.
    """
    config = config or QualityConfig()
    details = report.details
    if not details.get("parsed"):
        return 0.0, ["0/100: the code does not parse, so its readability cannot be judged."]
    parts = [
        _ruff_part(report, config),
        _complexity_part(report, config),
        _coverage_part(details["docstrings"], "docstrings", config.docstring_weight),
        _coverage_part(details["type_hints"], "type hints", config.type_hint_weight),
        _spelling_part(details["misspelled"], config),
        _commented_code_part(report, config),
    ]
    score = max(0.0, FULL_MARKS - sum(points for points, _ in parts))
    return round(score, 1), [line for _, line in parts]


def static_penalty(
    findings: tuple[Finding, ...] | list[Finding],
    criterion: str,
    config: QualityConfig | None = None,
) -> tuple[float, list[str]]:
    """Points the static findings of ``criterion`` take off it, and a line per rule.

    Each finding costs ``config.finding_cost[severity]``; a rule counts at most
    ``config.max_findings_per_rule`` times, and the total at most ``config.max_static_penalty``.
    """
    config = config or QualityConfig()
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        if finding.criterion == criterion:
            by_rule[finding.rule].append(finding)
    total, evidence = 0.0, []
    for rule, found in by_rule.items():
        counted = found[: config.max_findings_per_rule]
        cost = sum(config.finding_cost[f.severity] for f in counted)
        total += cost
        places = [f.where or f"line {f.line}" for f in found if f.where or f.line is not None]
        extra = f", {len(counted)} counted" if len(found) > len(counted) else ""
        where = f" at {', '.join(places)}" if places else ""
        evidence.append(
            f"{_off(cost)}: {rule}{where} ({len(found)} found{extra}). {found[0].message}"
        )
    if total > config.max_static_penalty:
        evidence.append(
            f"Static findings capped at {_off(config.max_static_penalty)} (they add up to "
            f"{_off(total)})."
        )
        total = config.max_static_penalty
    return total, evidence


# --- the parts of readability ----------------------------------------------------------


def _ruff_part(report: QualityReport, config: QualityConfig) -> tuple[float, str]:
    """Points for ruff findings per 100 code lines (at least `min_lines_for_density`)."""
    if not report.details.get("ruff_available"):
        return 0.0, "-0: ruff was not available, so style rules were not checked."
    count, lines = report.metrics["ruff_findings"], report.metrics["code_lines"]
    per_100 = 100 * count / max(lines, config.min_lines_for_density)
    points = min(config.max_ruff_penalty, config.ruff_cost_per_100_lines * per_100)
    rules = ", ".join(f"{code} x{n}" for code, n in sorted(report.details["ruff_by_rule"].items()))
    detail = f": {rules}" if rules else ""
    return points, (
        f"{_off(points)}: {count} ruff finding(s) in {lines} candidate code lines "
        f"({per_100:.1f} per 100 lines){detail}."
    )


def _complexity_part(report: QualityReport, config: QualityConfig) -> tuple[float, str]:
    """Points for each function above the complexity threshold."""
    flagged = [f for f in report.findings if f.rule == "readability.complexity"]
    points = min(config.max_complexity_penalty, config.complexity_cost * len(flagged))
    if not flagged:
        highest = report.metrics["max_complexity"]
        return 0.0, f"-0: no function above complexity {config.max_complexity} ({highest} at most)."
    names = ", ".join(f.symbol or "?" for f in flagged)
    return points, f"{_off(points)}: above complexity {config.max_complexity}: {names}."


def _coverage_part(coverage: dict, what: str, weight: float) -> tuple[float, str]:
    """Points for the share of definitions (or parameters) without ``what``."""
    points = weight * (1.0 - coverage["ratio"])
    if not coverage["total"]:
        return 0.0, f"-0: no definitions of the candidate's to check for {what}."
    missing = coverage["missing"]
    more = len(missing) - SHOWN_MISSING
    shown = ", ".join(missing[:SHOWN_MISSING]) + (f" and {more} more" if more > 0 else "")
    lacking = f"; missing: {shown}" if missing else ""
    return points, (
        f"{_off(points)}: {what} on {coverage['covered']} of {coverage['total']} "
        f"({coverage['ratio']:.0%}){lacking}."
    )


def _spelling_part(misspelled: dict[str, str], config: QualityConfig) -> tuple[float, str]:
    """Points for each misspelled identifier word."""
    if not misspelled:
        return 0.0, "-0: no misspelled words in the candidate's identifiers."
    points = min(config.max_spelling_penalty, config.spelling_cost * len(misspelled))
    words = ", ".join(f"'{w}' ({right}?)" for w, right in misspelled.items())
    return points, f"{_off(points)}: misspelled words in identifiers: {words}."


def _commented_code_part(report: QualityReport, config: QualityConfig) -> tuple[float, str]:
    """Points for each block of commented-out code."""
    flagged = [f for f in report.findings if f.rule == "readability.commented-out-code"]
    if not flagged:
        return 0.0, "-0: no commented-out code on the candidate's lines."
    points = min(config.max_commented_code_penalty, config.commented_code_cost * len(flagged))
    places = ", ".join(f.where or f"line {f.line}" for f in flagged)
    return points, f"{_off(points)}: commented-out code left in at {places}."


def _off(points: float) -> str:
    """Points lost as the evidence shows them: ``-4``, ``-2.5``."""
    return f"-{round(points, 1):g}"
