"""The notebook's top-level code is put back after the definitions and reviewed: findings
there are the candidate's when the line is theirs, and display statements do not count."""

from __future__ import annotations

import pytest

from grader.intake import Extracted, Submission, extract, parse_text
from grader.quality import QualityReport, analyse_submission, review_program
from grader.quality.toplevel import MARKER, ReviewedProgram

from .seeds import lines_matching

HANDOUT = """# %%
import torch

# %%
def double(x):
    # TODO: implement
    raise NotImplementedError

# %%
data = torch.arange(4)
data = data.to("cpu")
print(data.shape)
"""

SUBMISSION = """# %%
import torch

# %%
def double(x):
    return 2 * x

# %%
!pip install portalocker
data = torch.arange(4)
# move it
data.to("cpu")
print(data.shape)
print(data == None)
data.shape
flag = data == None

# %%
def broken(:
    pass

# %%
%%time
import torch
result = double(data)
"""


@pytest.fixture(scope="module")
def submission() -> Submission:
    return parse_text(SUBMISSION, name="toplevel", suffix=".py")


@pytest.fixture(scope="module")
def extracted(submission: Submission) -> Extracted:
    return extract(submission, HANDOUT)


@pytest.fixture(scope="module")
def reviewed(submission: Submission, extracted: Extracted) -> ReviewedProgram:
    return review_program(submission, extracted, HANDOUT)


@pytest.fixture(scope="module")
def report(submission: Submission, extracted: Extracted) -> QualityReport:
    return analyse_submission(submission, extracted, HANDOUT)


def _line(source: str, pattern: str) -> int:
    (line,) = lines_matching(source, pattern)
    return line


def test_extracted_program_is_kept_unchanged_as_the_prefix(extracted, reviewed):
    assert reviewed.source.startswith(extracted.source)
    assert reviewed.extracted_lines == extracted.source.count("\n")
    assert _line(reviewed.source, "^" + MARKER) > reviewed.extracted_lines
    assert extracted.candidate_lines <= reviewed.candidate_lines


def test_skipped_statements_come_back_under_their_cell(reviewed):
    source = reviewed.source
    moved = _line(source, r'^data\.to\("cpu"\)$')
    assert reviewed.line_map[moved] == (2, 4)  # cell 2, its fourth line
    assert _line(source, r"^# cell 2$") < moved < _line(source, r"^# cell 4$")
    assert reviewed.line_map[_line(source, r"^# move it$")] == (2, 3)  # its comment comes along
    assert _line(source, r"^result = double\(data\)$") > moved


def test_magics_syntax_errors_and_repeated_imports_are_left_out(reviewed):
    tail = reviewed.source.split(MARKER, 1)[1]
    assert "pip install" not in tail and "%%time" not in tail
    assert "def broken" not in tail
    assert "import torch" not in tail


def test_handout_lines_are_not_the_candidates(reviewed):
    source = reviewed.source
    assert _line(source, r"^data = torch\.arange\(4\)$") not in reviewed.candidate_lines
    assert _line(source, r"^print\(data\.shape\)$") not in reviewed.candidate_lines
    assert _line(source, r'^data\.to\("cpu"\)$') in reviewed.candidate_lines
    assert _line(source, r"^flag = ") in reviewed.candidate_lines


def test_top_level_finding_on_a_candidate_line(report):
    (moved,) = report.by_criterion("optimisation")
    assert (moved.rule, moved.severity) == ("opt.to-device-discarded", "major")
    assert moved.line == _line(report.source, r'^data\.to\("cpu"\)$')


def test_display_statements_are_not_judged_or_counted(report):
    # `print(data == None)` and `data.shape` are the candidate's but only display values:
    # the one ruff finding is the E711 of the assignment, not the one inside the print.
    ruff = [(f.rule, f.line) for f in report.findings if f.rule.startswith("ruff.")]
    assert ruff == [("ruff.E711", _line(report.source, r"^flag = "))]
    # Code lines: `return 2 * x`, `data.to("cpu")`, `flag = ...`, `result = ...`.
    assert report.metrics["code_lines"] == 4


def test_a_submission_without_top_level_code_is_the_extracted_program():
    text = HANDOUT.replace(
        "    # TODO: implement\n    raise NotImplementedError", "    return x + x"
    )
    text = text.split("# %%\ndata")[0]
    sub = parse_text(text, name="defs", suffix=".py")
    extracted = extract(sub, HANDOUT)
    reviewed = review_program(sub, extracted, HANDOUT)
    assert reviewed.source == extracted.source
    assert reviewed.candidate_lines == extracted.candidate_lines
