"""The quality analysis on the two real submissions: every finding there must be right."""

from __future__ import annotations

import pytest

from grader.quality import QualityReport, analyse, readability_score, static_penalty

from .seeds import lines_matching, markdown_code, notebook_code, seed


@pytest.fixture(scope="module")
def notebook() -> str:
    """Seed 004: the transformer language-model test answered in a notebook."""
    return notebook_code(seed("004_*.ipynb"))


@pytest.fixture(scope="module")
def markdown() -> str:
    """Seed 000: the positional-encoding question answered in Markdown."""
    return markdown_code(seed("000_*.txt"))


@pytest.fixture(scope="module")
def notebook_report(notebook: str) -> QualityReport:
    return analyse(notebook)


@pytest.fixture(scope="module")
def markdown_report(markdown: str) -> QualityReport:
    return analyse(markdown)


def _lines(report: QualityReport, rule: str) -> set[int]:
    return {f.line for f in report.findings if f.rule == rule}


def test_discarded_to_device_statements_are_the_three_bare_ones(notebook, notebook_report):
    bare = lines_matching(notebook, r"^\w+\.to\(device\)\s*$")
    assert len(bare) == 3  # train, validation and test data, each moved and thrown away
    assert _lines(notebook_report, "opt.to-device-discarded") == bare
    discarded = [f for f in notebook_report.findings if f.rule == "opt.to-device-discarded"]
    assert {f.severity for f in discarded} == {"major"}  # the data flow knows they are tensors


def test_assigned_moves_and_module_moves_are_not_flagged(notebook, notebook_report):
    assigned = lines_matching(notebook, r"=.*\.to\(device\)")
    assert assigned  # x = x.to(device) and model = Model(...).to(device) exist ...
    assert not assigned & _lines(notebook_report, "opt.to-device-discarded")  # ... and are fine


def test_hard_coded_mps_device_is_flagged_once(notebook, notebook_report):
    assert _lines(notebook_report, "opt.hardcoded-device") == lines_matching(
        notebook, r'^device\s*=\s*"mps"'
    )


def test_guarded_mask_rebuild_and_no_grad_evaluation_are_not_flagged(notebook_report):
    # The notebook rebuilds the mask only when a batch is shorter (a shape test), and its
    # evaluate() runs under torch.no_grad().
    rules = {f.rule for f in notebook_report.findings}
    assert not rules & {"opt.mask-in-loop", "opt.eval-without-no-grad", "opt.head-loop"}


def test_item_every_training_step_is_one_minor_finding(notebook, notebook_report):
    items = [f for f in notebook_report.findings if f.rule == "opt.item-every-step"]
    assert [f.symbol for f in items] == ["train"]  # evaluate's per-batch .item() is not training
    assert items[0].severity == "minor"
    assert items[0].line in lines_matching(notebook, r"\+=\s*loss\.item\(\)")


def test_old_style_super_calls_are_the_ruff_findings(notebook, notebook_report):
    assert _lines(notebook_report, "ruff.UP008") == lines_matching(notebook, r"super\(\w+, self\)")
    ruff_rules = {f.rule for f in notebook_report.findings if f.rule.startswith("ruff.")}
    assert ruff_rules == {"ruff.UP008"}  # display lines, prints, E402 and E501 are ignored


def test_mask_logic_copied_from_train_into_evaluate_is_one_duplicate(notebook, notebook_report):
    duplicates = [f for f in notebook_report.findings if f.rule == "reuse.duplicated-block"]
    assert [f.symbol for f in duplicates] == ["evaluate"]
    assert duplicates[0].line in lines_matching(notebook, r"= get_batch\(eval_data")


def test_settings_fixed_inside_functions(notebook, notebook_report):
    assert _lines(notebook_report, "reuse.hardcoded-setting") == lines_matching(
        notebook, r"^\s+(log_interval|initrange) = [\d.]+\s*$"
    )
    clip = lines_matching(notebook, r"^\s+torch\.nn\.utils\.clip_grad_norm_\(.*0\.5\)")
    assert clip <= _lines(notebook_report, "reuse.magic-number")


def test_parametrised_functions_read_no_notebook_globals(notebook_report, markdown_report):
    # Both candidates pass model, data and device as parameters.
    for report in (notebook_report, markdown_report):
        assert not _lines(report, "reuse.notebook-global")


def test_notebook_identifiers_are_spelled_right(notebook_report):
    assert notebook_report.details["misspelled"] == {}


def test_misspelled_positional_encoding_attribute(markdown, markdown_report):
    assert markdown_report.details["misspelled"] == {"enconding": "encoding"}
    spelling = [f for f in markdown_report.findings if f.rule == "readability.spelling"]
    assert len(spelling) == 1
    assert spelling[0].line == min(lines_matching(markdown, r"self\.positional_enconding\s*="))


def test_markdown_answer_findings(markdown, markdown_report):
    items = _lines(markdown_report, "opt.item-every-step")
    assert items == lines_matching(markdown, r"^\s+\w+\.append\(\w+\.item\(\)\)")
    # The .item() calls inside the every-20-epochs print are throttled, so not flagged.
    assert not items & lines_matching(markdown, r"print\(")
    assert _lines(markdown_report, "reuse.hardcoded-setting") == lines_matching(
        markdown, r"^\s+n = 0\.01"
    )
    assert markdown_report.details["type_hints"]["ratio"] == 0.0


def test_findings_stay_on_candidate_lines(notebook):
    bare = lines_matching(notebook, r"^\w+\.to\(device\)\s*$")
    everything = frozenset(range(1, notebook.count("\n") + 2))
    report = analyse(notebook, candidate_lines=everything - bare)
    assert not _lines(report, "opt.to-device-discarded")
    assert _lines(report, "opt.hardcoded-device")  # the rest is still theirs


def test_seed_scores_are_below_clean_code_and_explained(notebook_report, markdown_report):
    for report in (notebook_report, markdown_report):
        score, evidence = readability_score(report)
        assert 50 <= score < 95
        assert any(line.startswith("-") and not line.startswith("-0") for line in evidence)
    points, evidence = static_penalty(notebook_report.findings, "optimisation")
    assert points > 0
    assert any("opt.to-device-discarded" in line for line in evidence)
