"""The kinds registry: every kind declares its options and checks, the docs' table of checks
is generated from the declarations, and the pipeline and the timings know no task by name."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from grader import assignment as assignments
from grader import kinds
from grader.kinds import KindError, listing, parse_options
from grader.kinds.generic import TrainingOptions
from grader.training import LMOptions

ROOT = Path(__file__).resolve().parents[3]


def test_every_kind_declares_options_and_unique_checks() -> None:
    assert {
        "attention",
        "lm_training",
        "positional_training",
        "function",
        "module",
        "training",
    } <= set(kinds.known())
    for name in kinds.known():
        kind = kinds.get(name)
        assert kind.name == name and kind.title
        assert dataclasses.is_dataclass(kind.Options)
        names = [c.name for c in kind.checks]
        assert names and len(names) == len(set(names)), name
        assert all(c.criterion in ("completion", "reusability") for c in kind.checks)
        assert not (kind.trains and not hasattr(kind, "train"))


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KindError, match="unknown kind 'attn'; known kinds: attention, causal_mask"):
        kinds.get("attn")


def test_options_are_validated_and_coerced() -> None:
    opts = parse_options(LMOptions, {"bptt": 12, "dropout": 0, "loop_optimizer": "sgd"}, "t")
    assert opts.bptt == 12 and opts.dropout == 0.0 and isinstance(opts.dropout, float)
    with pytest.raises(KindError, match="t.bptt: expected an integer, got '12'"):
        parse_options(LMOptions, {"bptt": "12"}, "t")
    with pytest.raises(KindError, match="'rmsprop' is not one of 'sgd', 'adam'"):
        parse_options(LMOptions, {"loop_optimizer": "rmsprop"}, "t")
    with pytest.raises(KindError, match="unknown option"):
        parse_options(LMOptions, {"layout": "batch_first"}, "t")
    with pytest.raises(KindError, match="data"):
        parse_options(TrainingOptions, {}, "t")  # a required option missing


def test_the_docs_checks_table_is_the_generated_one() -> None:
    docs = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    generated = listing.markdown()
    begin, end = docs.index(listing.DOCS_BEGIN), docs.index(listing.DOCS_END)
    assert docs[begin : end + len(listing.DOCS_END)] == generated, (
        "docs/ARCHITECTURE.md's checks table is stale: paste the output of `grader kinds --markdown`"
    )


def test_the_checks_a_task_declares_are_the_checks_its_kind_lists() -> None:
    for name in ("transformer_lm", "positional_encoding"):
        for task in assignments.get(name).tasks:
            kind = kinds.get(task.kind)
            assert {c.name for c in kind.declared_checks(task.options)} <= {
                c.name for c in kind.checks
            }


def string_constants(path: Path) -> set[str]:
    """Every string constant of a module that is not a docstring (f-string parts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    }


@pytest.mark.parametrize("module", ["pipeline.py", "timing.py"])
def test_the_pipeline_and_the_timings_name_no_task_and_no_kind(module: str) -> None:
    path = ROOT / "grader" / module
    task_ids = {
        t.id for n in ("transformer_lm", "positional_encoding") for t in assignments.get(n).tasks
    }
    names = set(kinds.known()) | task_ids
    constants = {c.strip(" :.()") for c in string_constants(path)}
    assert not constants & names, sorted(constants & names)
    text = path.read_text(encoding="utf-8")
    for name in names - {
        "training",
        "function",
        "module",
    }:  # plain words, checked as constants only
        assert name not in text, name
