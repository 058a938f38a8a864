"""The example submissions (submissions/) through intake and the quality analysis: the static
findings their README expects on the candidate's own lines are found, and those it rules out
are not."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from grader import assignment
from grader.intake import extract, load_submission
from grader.quality import QualityReport, analyse_submission

from .seeds import assert_located

SUBMISSIONS = Path(__file__).resolve().parents[3] / "submissions"
STATIC = ("opt.", "reuse.", "readability.", "ruff.")
"""Rule prefixes of this package; the README also lists notebook facts, checked elsewhere."""
DISAGREEMENTS = {
    ("plain_typical", "opt.item-every-step"): (
        "its only per-step `.item()` is `total_loss += loss.item()`, a line of the handout's "
        "train() that the candidate kept, so it is not theirs to answer for"
    ),
}
"""README expectations the analysis deliberately does not meet, with the reason."""


def _expectations() -> dict[str, Any]:
    """The README's ```toml blocks, merged; only the tables that name a file."""
    text = (SUBMISSIONS / "README.md").read_text(encoding="utf-8")
    merged: dict[str, Any] = {}
    for block in re.findall(r"^```toml\n(.*?)^```$", text, re.DOTALL | re.MULTILINE):
        merged |= tomllib.loads(block)
    return {name: spec for name, spec in merged.items() if "file" in spec}


EXPECTED = _expectations()


@pytest.fixture(scope="module")
def reports() -> dict[str, QualityReport]:
    handout = assignment.get("transformer_lm").handout_source()
    found = {}
    for name, spec in EXPECTED.items():
        sub = load_submission(SUBMISSIONS / spec["file"])
        found[name] = analyse_submission(sub, extract(sub, handout), handout)
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_expected_static_findings(name: str, reports: dict[str, QualityReport]) -> None:
    rules = {f.rule for f in reports[name].findings}
    wanted = {r for r in EXPECTED[name]["findings"] if r.startswith(STATIC)}
    wanted -= {rule for (who, rule) in DISAGREEMENTS if who == name}
    assert wanted <= rules, f"missing {wanted - rules}"
    assert not rules & set(EXPECTED[name]["no_findings"])


def test_disagreements_are_still_true(reports: dict[str, QualityReport]) -> None:
    # If a disagreement stops holding (the README or the handout changed), drop it above.
    for name, rule in DISAGREEMENTS:
        assert rule in EXPECTED[name]["findings"]
        assert rule not in {f.rule for f in reports[name].findings}


def test_strong_submissions_have_no_weighty_static_findings(
    reports: dict[str, QualityReport],
) -> None:
    for name in ("strong", "export_strong"):
        weighty = [f for f in reports[name].findings if f.severity != "info"]
        assert not weighty, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_finding_says_where_its_line_is_in_the_file(
    name: str, reports: dict[str, QualityReport]
) -> None:
    """``Finding.where`` points at the same text in the file as handed in, whatever the
    extracted program dropped before it (markdown cells, handout lines, top-level work)."""
    sub = load_submission(SUBMISSIONS / EXPECTED[name]["file"])
    checked = assert_located(sub, reports[name])
    assert checked or not reports[name].findings
