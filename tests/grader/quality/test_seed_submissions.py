"""The real submissions as the grader reads them: intake with the assignment's handout, then
the quality analysis of the candidate's own lines, top-level cells included.

Seed 004 throws away `.to(device)` three times in a data cell the worker never runs, hard-codes
``"mps"`` (the portable line kept as a comment) and builds its causal mask inline five times;
the rest of its own code is clean. Both of its formats must say the same.
"""

from __future__ import annotations

import re

import pytest

from grader import assignment
from grader.intake import extract, load_submission
from grader.quality import QualityReport, analyse_submission, readability_score, static_penalty

from .seeds import assert_located, lines_matching, seed

BARE_MOVE = r"^\w+\.to\(device\)\s*$"


def _analyse(pattern: str, assignment_id: str) -> QualityReport:
    path = seed(pattern)
    handout = assignment.get(assignment_id).handout_source()
    sub = load_submission(path)
    return analyse_submission(sub, extract(sub, handout), handout)


FORMATS = ("004_*.ipynb", "004_*.txt")


@pytest.fixture(scope="module")
def formats() -> dict[str, QualityReport]:
    """Seed 004 (the transformer test) in each of its two formats, analysed once."""
    return {pattern: _analyse(pattern, "transformer_lm") for pattern in FORMATS}


@pytest.fixture(params=FORMATS)
def notebook(request: pytest.FixtureRequest, formats: dict[str, QualityReport]) -> QualityReport:
    return formats[request.param]


@pytest.fixture(scope="module")
def markdown() -> QualityReport:
    """Seed 000 (the positional-encoding question), answered in Markdown."""
    return _analyse("000_*.txt", "positional_encoding")


def _lines(report: QualityReport, rule: str) -> set[int]:
    return {f.line for f in report.findings if f.rule == rule and f.line is not None}


def _text(report: QualityReport, line: int) -> str:
    return report.source.split("\n")[line - 1].strip()


def test_the_three_discarded_moves_in_the_data_cell(notebook):
    discarded = [f for f in notebook.findings if f.rule == "opt.to-device-discarded"]
    assert {f.line for f in discarded} == lines_matching(notebook.source, BARE_MOVE)
    assert [_text(notebook, f.line) for f in discarded] == [
        "train_data.to(device)",
        "val_data.to(device)",
        "test_data.to(device)",
    ]
    assert {f.severity for f in discarded} == {"major"}  # torch.cat(...): known tensors
    assert all(f.symbol is None for f in discarded)  # top-level code


def test_moves_that_keep_their_result_are_not_flagged(notebook):
    kept = lines_matching(notebook.source, r"=.*\.to\(device\)")
    assert kept  # `batch_win1 = batch_win1.to(device)`, the model, the masks in train()
    assert not kept & _lines(notebook, "opt.to-device-discarded")


def test_hard_coded_device_and_its_commented_out_alternative(notebook):
    device = lines_matching(notebook.source, r'^device = "mps"')
    assert _lines(notebook, "opt.hardcoded-device") == device
    assert _lines(notebook, "readability.commented-out-code") == device


def test_causal_mask_built_inline_is_one_reusability_finding(notebook):
    (inline,) = [f for f in notebook.findings if f.rule == "reuse.inline-mask"]
    sites = lines_matching(notebook.source, r"torch\.tril\(")
    assert len(sites) == 5  # train and evaluate twice each, and the one-iteration cell
    assert re.search(r"in 5 places \(lines [\d, ]+\)", inline.message)
    assert inline.line in sites


def test_handout_lines_carry_no_finding(notebook):
    # The handout's own per-step `.item()`, settings and prints are not the candidate's.
    handout_items = lines_matching(notebook.source, r"total_loss \+= loss\.item\(\)")
    assert handout_items and not handout_items & notebook.candidate_lines
    assert not _lines(notebook, "opt.item-every-step")
    assert not _lines(notebook, "reuse.hardcoded-setting")
    assert all(f.line in notebook.candidate_lines for f in notebook.findings if f.line)


def test_careful_reviewer_scores(notebook):
    readability, evidence = readability_score(notebook)
    assert 90 <= readability < 100
    assert any("commented-out code" in line for line in evidence)
    optimisation, _ = static_penalty(notebook.findings, "optimisation")
    assert optimisation >= 30  # three thrown-away copies and a hard-coded device
    reusability, _ = static_penalty(notebook.findings, "reusability")
    assert reusability > 0


@pytest.mark.parametrize("pattern", FORMATS)
def test_findings_say_where_they_are_in_the_file(pattern, formats):
    """A notebook's findings name the cell and its line; the text export's name the file line."""
    sub = load_submission(seed(pattern))
    assert assert_located(sub, formats[pattern]) >= 5  # the moves, the device, the masks


def test_both_formats_find_the_same(formats):
    def key(report: QualityReport) -> list[tuple[str, str]]:
        return sorted((f.rule, _text(report, f.line or 0)) for f in report.findings)

    notebook, text = formats.values()
    assert key(notebook) == key(text)
    assert notebook.metrics == text.metrics


def test_markdown_answer_top_level_training_loop(markdown):
    # The answer's training loop is top-level code: its per-epoch (= per-step) reads.
    items = _lines(markdown, "opt.item-every-step")
    assert items == lines_matching(markdown.source, r"^\s+\w+\.append\(\w+\.item\(\)\)")
    assert markdown.details["misspelled"] == {"enconding": "encoding"}
