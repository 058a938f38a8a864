"""Rubric points need sentences (grader/answers/prose.py, issue 17): the model answers of
``reference/answers/`` earn (almost) every point, the same vocabulary handed in as lists of
terms earns little, and a buzzword list scores low."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import assignment
from grader.answers import find_and_score
from grader.answers.prose import FUNCTION_WORDS, is_prose, stated, words
from grader.intake import parse_text

ANSWERS = Path(__file__).resolve().parents[3] / "reference" / "answers"
ASSIGNMENTS = sorted(p.stem for p in ANSWERS.glob("*.md"))


def graded(assignment_id: str, text: str) -> dict[str, float]:
    task = assignment.get(assignment_id)
    return {a.question: a.score for a in find_and_score(task, parse_text(text, suffix=".md").cells)}


def stuffed(text: str) -> str:
    """``text`` with each answer replaced by its own topic words, comma-separated: the
    vocabulary of a model answer with no statement in it."""
    out = []
    for block in text.split("\n## ")[1:]:
        heading, _, body = block.partition("\n")
        terms = [w for w in words(body) if w not in FUNCTION_WORDS]
        unique = list(dict.fromkeys(terms))
        out.append(f"## {heading}\n\n" + ", ".join(unique) + "\n")
    return "# Answers\n\n" + "\n".join(out)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_model_answers_score_high(assignment_id: str) -> None:
    scores = graded(assignment_id, (ANSWERS / f"{assignment_id}.md").read_text(encoding="utf-8"))
    assert scores and min(scores.values()) >= 0.9, scores


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_the_model_answers_vocabulary_as_a_list_scores_low(assignment_id: str) -> None:
    text = stuffed((ANSWERS / f"{assignment_id}.md").read_text(encoding="utf-8"))
    scores = graded(assignment_id, text)
    assert scores and max(scores.values()) <= 0.25, scores


def test_a_buzzword_list_scores_low() -> None:
    text = """## Describe the attention complexity in memory and computation costs. Do you know methods to try to reduce this cost?

- quadratic
- O(n^2) memory
- O(n^2 d) compute
- sparse attention, Longformer, BigBird
- Linformer, low-rank, Performer, kernel
- FlashAttention, IO-aware, tiling

## Why use a causal mask in attention? Are there any other interesting masks or patterns that can be used for training or for generation?

future tokens, leakage, autoregressive, teacher forcing, padding mask, prefix LM, sliding window, block-sparse
"""
    scores = graded("transformer_lm", text)
    assert scores and max(scores.values()) <= 0.25, scores


def test_terse_statements_still_count() -> None:
    assert is_prose("O(n^2 d) compute and O(n^2) memory.")
    assert is_prose("The mask keeps each position from seeing the future.")
    assert not is_prose("quadratic, O(n^2), memory, sparse attention, Linformer, FlashAttention")
    found = [
        "Attention compares every query with every key, so it costs O(n^2) time.",
        "Methods: sparse attention (Longformer, BigBird), Linformer (low rank), FlashAttention.",
    ]
    assert stated(found) == found  # a list after a statement names what was asked for
    assert stated(found[1:]) == []  # the list alone states nothing
