"""Readability: the curated ruff rules, complexity, docstring and type-hint coverage, spelling."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from textwrap import dedent

import pytest

from grader.quality import READABILITY_METRICS, QualityConfig, analyse, readability_score
from grader.quality.lint import ruff_binary
from grader.quality.metrics import complexity
from grader.quality.source import Program
from grader.quality.spelling import is_known, split_identifier

from .seeds import expected, found, markdown_code, notebook_code, seed

HERE = Path(__file__).parent
CLEAN = (HERE / "clean_example.py").read_text(encoding="utf-8")
REPO = HERE.parents[2]


def test_clean_code_scores_full_marks_with_no_finding() -> None:
    report = analyse(CLEAN)
    score, evidence = readability_score(report)
    assert score >= 95
    assert report.findings == ()
    assert all(line.startswith("-0") for line in evidence)


STYLE = """
from torch import nn

class Block(nn.Module):
    def __init__(self):
        super(Block, self).__init__()  # expect: ruff.UP008

def camelCase(x):  # expect: ruff.N802
    unused = 3  # expect: ruff.F841
    square = lambda y: y * y  # expect: ruff.E731
    if x == None:  # expect: ruff.E711
        return dict()  # expect: ruff.C408
    return square(x)
"""

NOTEBOOK_ARTEFACTS = """
# %%
import torch
x = torch.zeros(3)
x.shape
print(x)
x;
import math
Q = K = V = x
"""
LONG_LINE = "constants = [" + ", ".join(["math.pi"] * 20) + "]\n"  # over 100 characters


def test_ruff_findings_are_the_curated_rules_on_their_lines() -> None:
    source = dedent(STYLE)
    assert found(analyse(source), "readability") == expected(source)


def test_notebook_artefacts_are_not_findings() -> None:
    report = analyse(dedent(NOTEBOOK_ARTEFACTS) + LONG_LINE)
    assert report.findings == ()


def test_ruff_is_only_asked_about_candidate_lines() -> None:
    source = dedent(STYLE)
    handout = {line for _, line in expected(source) if line % 2 == 0}
    everything = frozenset(range(1, source.count("\n") + 2))
    report = analyse(source, candidate_lines=everything - handout)
    assert found(report, "readability") == {m for m in expected(source) if m[1] not in handout}


def test_ruff_failure_is_reported_not_raised() -> None:
    report = analyse(CLEAN, config=QualityConfig(ruff_select=("NOT-A-RULE",)))
    assert report.details["ruff_available"] is False
    assert [f.rule for f in report.findings] == ["quality.ruff-unavailable"]
    _, evidence = readability_score(report)
    assert any("ruff was not available" in line for line in evidence)


def test_unparsable_code_is_a_finding_and_zero() -> None:
    report = analyse("def broken(:\n    pass\n")
    assert [(f.rule, f.line) for f in report.findings] == [("quality.syntax-error", 1)]
    assert readability_score(report)[0] == 0.0


def _ruff_complexity(path: Path) -> dict[tuple[int, str], int]:
    """ruff's own C901 numbers for every function of ``path``."""
    command = [str(ruff_binary()), "check", "--isolated", "--no-cache", "--select=C901"]
    command += ["--config=lint.mccabe.max-complexity=0", "--output-format=concise", str(path)]
    out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    pattern = r":(\d+):\d+: C901 `(\w+)` is too complex \((\d+) > 0\)"
    return {(int(m[1]), m[2]): int(m[3]) for m in re.finditer(pattern, out)}


COMPLEX = """
def branches(x, items):
    if x and x > 1:
        return [i for i in items if i]
    elif x:
        pass
    for i in items:
        while i:
            i -= 1
    try:
        pass
    except ValueError:
        pass
    except KeyError:
        pass
    else:
        pass
    match x:
        case 1:
            pass
        case _:
            pass
    def inner(z):
        return 1 if z else 2
    with open(x) as f:
        return f, inner
"""


def test_complexity_agrees_with_ruff_c901(tmp_path: Path) -> None:
    sources = {"complex": dedent(COMPLEX), "clean": CLEAN}
    sources |= {p.stem: p.read_text() for p in sorted((REPO / "reference").glob("*.py"))}
    for name, text in sources.items():
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        program = Program.parse(text)
        mine = {(f.lineno, f.name): complexity(f) for f in program.functions()}
        assert mine == _ruff_complexity(path), name


def test_complexity_above_threshold_is_flagged_at_the_def() -> None:
    ifs = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(10))
    source = f"def long_chain(x):\n{ifs}    return x\n"
    report = analyse(source)
    assert report.details["complexity"] == {"long_chain": 11}
    assert [(f.rule, f.line) for f in report.by_criterion("readability")] == [
        ("readability.complexity", 1)
    ]
    lenient = analyse(source, config=QualityConfig(max_complexity=11))
    assert not lenient.by_criterion("readability")
    assert readability_score(report)[0] < readability_score(lenient)[0]


COVERAGE = '''
from torch import nn

def documented(x: int) -> int:
    """Yes."""
    return x

def bare(x, *args, **kwargs):
    def nested(y):
        return y
    return nested(x)

def _private(x):
    return x

class Model(nn.Module):
    def __init__(self, size: int):
        """Documented through __init__."""
        super().__init__()

    def forward(self, x):
        return x

    def __repr__(self):
        return "Model"

    @staticmethod
    def build(size: int) -> "Model":
        return Model(size)

class _Helper:
    def method(self):
        return 1
'''


def test_docstring_coverage_counts_public_definitions() -> None:
    docstrings = analyse(dedent(COVERAGE)).details["docstrings"]
    assert docstrings["missing"] == ["bare", "Model.forward", "Model.build"]
    assert (docstrings["covered"], docstrings["total"]) == (2, 5)


def test_type_hint_coverage_counts_parameters_and_returns() -> None:
    hints = analyse(dedent(COVERAGE)).details["type_hints"]
    # self is not counted, nor __init__'s return; a staticmethod's first argument is.
    assert set(hints["missing"]) == {
        "bare(x)", "bare(args)", "bare(kwargs)", "bare -> ?",
        "bare.nested(y)", "bare.nested -> ?",
        "_private(x)", "_private -> ?",
        "Model.forward(x)", "Model.forward -> ?",
        "Model.__repr__ -> ?",
        "_Helper.method -> ?",
    }  # fmt: skip
    assert (hints["covered"], hints["total"]) == (5, 17)


def test_coverage_counts_only_definitions_the_candidate_wrote() -> None:
    source = dedent(COVERAGE)
    handout = {i for i, line in enumerate(source.splitlines(), 1) if "def bare" in line}
    everything = frozenset(range(1, source.count("\n") + 2))
    docstrings = analyse(source, candidate_lines=everything - handout).details["docstrings"]
    assert "bare" not in docstrings["missing"]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("positional_enconding", ["positional", "enconding"]),
        ("MultiHeadSelfAttention", ["multi", "head", "self", "attention"]),
        ("HTTPServer2", ["http", "server"]),
        ("X_train", ["x", "train"]),
        ("linear1", ["linear"]),
    ],
)
def test_identifiers_split_into_words(name: str, words: list[str]) -> None:
    assert split_identifier(name) == words


@pytest.mark.parametrize(
    "word",
    ["encodings", "tokenizer", "ntokens", "initrange", "srcmask", "optimiser", "normalised",
     "colour", "modelling", "feedforward", "layernorm", "logits", "dropout"],
)  # fmt: skip
def test_ml_vocabulary_british_spelling_and_compounds_are_known(word: str) -> None:
    assert is_known(word)


@pytest.mark.parametrize("word", ["enconding", "increseases", "embeding", "lenght", "mulitple"])
def test_misspellings_are_not_known(word: str) -> None:
    assert not is_known(word)


SPELLING = '''
import torchlib

class MultiHeadAtention:  # expect: readability.spelling
    """A misspeled docstring is not an identifier."""

    def __init__(self, hidden_dimension: int) -> None:
        self.positional_enconding = hidden_dimension  # expect: readability.spelling
        self.enconding_again = 2
        # a wierd comment is not an identifier either
        self.swiglu_gate = torchlib.recieve_buffer()
'''


def test_misspelled_identifiers_are_flagged_once_where_defined() -> None:
    source = dedent(SPELLING)
    report = analyse(source)
    assert found(report, "readability") == expected(source)
    assert report.details["misspelled"] == {"atention": "attention", "enconding": "encoding"}


def test_seed_readability_differs_from_clean_code() -> None:
    notebook = analyse(notebook_code(seed("004_*.ipynb")))
    markdown = analyse(markdown_code(seed("000_*.txt")))
    clean = readability_score(analyse(CLEAN))[0]
    for report in (notebook, markdown):
        assert readability_score(report)[0] < clean
    assert notebook.details["docstrings"]["ratio"] < 1.0


def test_code_lines_ignore_blank_lines_and_comments() -> None:
    source = "# a comment\n\nx = 1\n\n# another\ny = [\n    1,\n]\n"
    assert analyse(source).metrics["code_lines"] == 4


UNUSUAL = """
import asyncio
from typing import Any

counter = 0

def outer(*args: Any, scale: float = 1.0, **kwargs: Any) -> Any:
    global counter
    counter += 1
    total = 0
    def inner() -> None:
        nonlocal total
        total += 1
    if (n := len(args)) > 2:
        inner()
    match kwargs:
        case {"mode": "fast"}:
            return [a * scale for a in args if a]
        case _:
            return {k: v for k, v in kwargs.items()}, n, (lambda q=[]: q)()

class Outer:
    class Inner:
        @property
        def value(self) -> "Outer.Inner":
            return self

async def fetch(items: list[int]) -> list[int]:
    async with asyncio.timeout(1):
        return [i async for i in aiter_of(items)]

def aiter_of(items):
    return items

x: int
y = f"{counter!r:>{10}}"
del y
"""


def test_unusual_code_is_analysed_without_rule_failures() -> None:
    report = analyse(dedent(UNUSUAL))
    assert report.details["parsed"] is True
    assert not [f for f in report.findings if f.rule.startswith("quality.")]
    assert ("reuse.notebook-global", 9) in found(report, "reusability")  # global counter


COMMENTED = """
# %%
import torch

device = "cpu"  # torch.device("cuda" if torch.cuda.is_available() else "cpu")  # expect: readability.commented-out-code

def forward(x: torch.Tensor) -> torch.Tensor:
    \"\"\"Doubles ``x``.\"\"\"
    # print(x.shape)  # expect: readability.commented-out-code
    # (batch, heads, seq, head_dim)
    # shape: (batch, seq, dim)
    # torch.Size([35, 20])
    # [0, 35, 70, 105, ...]
    # weights via scaled dot product attention
    # for step in range(10):  # expect: readability.commented-out-code
    #     x = x * 2
    # TODO: use the fused kernel
    y = x * 2  # (batch, seq, dim)
    # noqa: E501
    # type: ignore
    return y  # a = b is how to write it

# x = forward(x)  # expect: readability.commented-out-code
"""


def test_commented_out_code_is_found_and_notes_are_not() -> None:
    source = dedent(COMMENTED)
    report = analyse(source)
    assert found(report, "readability") == expected(source)
    assert report.metrics["commented_out_code"] == 4
    score, evidence = readability_score(report)
    config = QualityConfig()
    assert score == 100 - config.max_commented_code_penalty  # 4 blocks, capped
    assert any("commented-out code left in" in line for line in evidence)


def test_commented_out_code_on_handout_lines_is_not_the_candidates() -> None:
    source = dedent(COMMENTED)
    marked = {line for _, line in expected(source)}
    everything = frozenset(range(1, source.count("\n") + 2))
    assert not analyse(source, candidate_lines=everything - marked).findings


def test_metrics_are_the_named_numbers_the_scorecard_labels() -> None:
    report = analyse(dedent(COVERAGE) + dedent(SPELLING))
    assert list(report.metrics) == list(READABILITY_METRICS)
    assert all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in report.metrics.values()
    )
    assert all(label and label[0].islower() for label in READABILITY_METRICS.values())
    assert report.metrics["docstring_coverage_pct"] == 50.0  # 3 of the 6 public definitions
    assert report.metrics["misspelled_identifiers"] == 2
    scores = report.details["complexity"]
    assert report.metrics["max_complexity"] == scores["bare"] == 2  # with its nested function
    assert report.metrics["mean_complexity"] == round(sum(scores.values()) / len(scores), 2) > 1


def test_unparsable_code_has_no_metrics() -> None:
    report = analyse("def broken(:\n")
    assert report.metrics == {}
    assert report.details == {"parsed": False}
