"""What static findings cost, and how readability points are explained."""

from __future__ import annotations

from grader import scoring
from grader.config import TimingConfig
from grader.quality import QualityConfig, analyse, readability_score, static_penalty
from grader.result import Finding


def _finding(rule: str, line: int, severity: str = "minor", criterion: str = "optimisation"):
    return Finding(rule, criterion, f"{rule} message", line, severity)  # type: ignore[arg-type]


def test_costs_follow_severity_and_each_rule_counts_a_few_times() -> None:
    findings = [_finding("opt.a", line) for line in range(1, 6)]  # five minor findings
    findings += [_finding("opt.b", 10, "major"), _finding("opt.c", 11, "info")]
    findings += [_finding("reuse.x", 12, criterion="reusability")]
    points, evidence = static_penalty(findings, "optimisation")
    config = QualityConfig()
    minor, major = config.finding_cost["minor"], config.finding_cost["major"]
    assert points == config.max_findings_per_rule * minor + major
    assert len(evidence) == 3  # one line per rule; the reusability finding is not counted
    assert evidence[0].startswith(f"-{config.max_findings_per_rule * minor:g}: opt.a")
    assert "5 found, 3 counted" in evidence[0]
    assert evidence[2].startswith("-0: opt.c")


def test_static_penalty_is_capped() -> None:
    findings = [_finding(f"opt.rule{i}", i, "major") for i in range(20)]
    config = QualityConfig(max_static_penalty=25.0)
    points, evidence = static_penalty(findings, "optimisation", config)
    assert points == 25.0
    assert "capped" in evidence[-1]


def test_criterion_scores_price_findings_with_the_configured_costs() -> None:
    """`GraderConfig.quality` reaches the optimisation and reusability scores, not the defaults."""
    findings = [_finding("opt.a", 1, "major"), _finding("reuse.x", 2, "major", "reusability")]
    default, dear = (
        QualityConfig(),
        QualityConfig(finding_cost={"info": 0.0, "minor": 3.0, "major": 20.0}),
    )
    assert dear.finding_cost["major"] != default.finding_cost["major"]
    for config in (default, dear):
        speed = scoring.optimisation([], findings, TimingConfig(), quality=config)
        reuse = scoring.reusability([], findings, 25.0, quality=config)
        assert speed.score == 100.0 - config.finding_cost["major"]
        assert reuse.score == 100.0 - config.finding_cost["major"]


def test_no_findings_cost_nothing() -> None:
    assert static_penalty([], "reusability") == (0.0, [])


def test_ruff_density_is_per_hundred_lines_with_a_floor() -> None:
    short = 'def f(x: int) -> int:\n    """Doc."""\n    unused = 1\n    return x\n'
    report = analyse(short)
    assert report.metrics["ruff_findings"] == 1  # F841
    config = QualityConfig()
    score, evidence = readability_score(report, config)
    # One finding in 4 lines is counted per min_lines_for_density lines, not per 4.
    per_100 = 100 / config.min_lines_for_density
    assert score == round(100 - config.ruff_cost_per_100_lines * per_100, 1)
    assert "1 ruff finding(s) in 4 candidate code lines" in evidence[0]


def test_ruff_penalty_is_capped() -> None:
    lines = "".join(f"def f{i}(x):\n    y{i} = 1\n    return x == None\n" for i in range(30))
    report = analyse(lines)
    config = QualityConfig(docstring_weight=0, type_hint_weight=0)
    score, _ = readability_score(report, config)
    assert score == 100 - config.max_ruff_penalty
