"""Score a located answer against its question's rubric and misconceptions.

The suggested score is the earned rubric weight over the total, minus a penalty for each
misconception flagged, clipped to 0..1: always a suggestion for a human to confirm.
"""

from __future__ import annotations

import re
from typing import Any

from grader.answers.locate import Located
from grader.answers.matching import matching, states
from grader.answers.prose import stated
from grader.answers.text import capped, sentences
from grader.assignment import Question, RubricPoint
from grader.config import DEFAULT_ANSWERS, AnswerConfig
from grader.result import WrittenAnswer


def score_answer(
    question: Question, located: Located, config: AnswerConfig = DEFAULT_ANSWERS
) -> WrittenAnswer:
    """Score one located answer (see the module docstring); the note says how it was found
    and what the score means."""
    if not located.lines:
        note = (
            f"The question is in the submission (cell {located.cell}) but no answer follows it."
            if located.asked
            else "No answer found: neither the question nor prose matching its rubric is in "
            "the submission."
        )
        return _written(question, found=False, score=0.0, note=note)
    text = "\n".join(located.lines)
    found = sentences(capped(located.lines, config.max_answer_chars))
    words = sum(len(re.findall(r"\w+", s)) for s in found)
    if words < config.min_words:
        note = f"The answer has {words} word(s), fewer than {config.min_words}: scored 0."
        points = tuple(_point(p, [], config) for p in question.rubric)
        return _written(
            question,
            found=True,
            score=0.0,
            points=points,
            answer=text,
            note=f"{_where(located)} {note}",
        )
    prose = stated(found, config)  # a list of terms states nothing
    points = tuple(_point(p, matching(p.patterns, prose), config) for p in question.rubric)
    flags = tuple(
        {
            "id": m.id,
            "message": m.message,
            "quote": quoted[0],
            "penalty": config.misconception_penalty,
        }
        for m in question.misconceptions
        if (quoted := [s for s in found if states(s, m.patterns)])
    )
    total = sum(p.weight for p in question.rubric)
    earned = sum(p["weight"] for p in points if p["earned"])
    # No rubric: the answer is only checked for presence and misconceptions.
    score = min(
        1.0,
        max(0.0, (earned / total if total else 1.0) - config.misconception_penalty * len(flags)),
    )
    note = f"{_where(located)} Suggested: {earned:g} of {total:g} rubric weight earned"
    if flags:
        note += (
            f", minus {config.misconception_penalty:g} for each of {len(flags)} misconception(s)"
        )
    return _written(
        question,
        found=True,
        score=round(score, 4),
        points=points,
        misconceptions=flags,
        answer=text,
        note=f"{note}; a human should confirm.",
    )


def _where(located: Located) -> str:
    if located.how == "anchor":
        return f"Found after the question (cell {located.cell})."
    return (
        f"No heading or repeated question marks this answer; the prose of cell {located.cell} "
        "matches the rubric best and was scored."
    )


def _point(point: RubricPoint, quotes: list[str], config: AnswerConfig) -> dict[str, Any]:
    """A rubric point as ``WrittenAnswer.points`` holds it: ``point`` (its id), ``text``,
    ``weight``, ``earned``, ``quote`` (the first sentence that earned it) and ``quotes``."""
    kept = tuple(quotes[: config.max_quotes])
    return {
        "point": point.id,
        "text": point.text,
        "weight": point.weight,
        "earned": bool(kept),
        "quote": kept[0] if kept else None,
        "quotes": kept,
    }


def _written(question: Question, **values: Any) -> WrittenAnswer:
    """A `WrittenAnswer` for ``question``."""
    return WrittenAnswer(question=question.id, prompt=question.prompt, **values)
