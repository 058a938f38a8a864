"""Rubric and misconception patterns against sentences.

Patterns are case-insensitive regular expressions from ``assignment.toml``, matched one
sentence at a time. A rubric point is earned by any match; a misconception is only *stated*
when a match lies in a clause with no negation ("LoRA does not ...", "unlike LoRA, ...").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import cache


@cache
def compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled case-insensitively, once; a bad one names itself."""
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad answer pattern {pattern!r}: {exc}") from exc


def matching(patterns: Sequence[str], found: Sequence[str]) -> list[str]:
    """The sentences that any of ``patterns`` matches, in order."""
    return [s for s in found if any(compiled(p).search(s) for p in patterns)]


_CLAUSE_BREAK = re.compile(
    r";|,\s*(?:and|so|but)\s|\s(?:but|whereas|however|while|although|though)\s", re.IGNORECASE
)
_NEGATION = re.compile(
    r"\b(not|no|never|neither|nor|nothing|cannot|unlike|instead of|rather than|unrelated|"
    r"irrelevant|different from|confus\w*|mistak\w*|misconception)\b|n't\b|\bwrong(ly)?\b",
    re.IGNORECASE,
)


def states(sentence: str, patterns: Sequence[str]) -> bool:
    """Whether ``sentence`` makes the claim ``patterns`` spot, rather than denying it: some
    match lies in a clause without a negation ("unlike LoRA, ..." and "LoRA does not ..."
    deny it; "sparse attention is not exact, and LoRA ..." does not)."""
    clauses = _clauses(sentence)
    for pattern in patterns:
        for match in compiled(pattern).finditer(sentence):
            clause = next(c for start, end, c in clauses if start <= match.start() < end)
            if not _NEGATION.search(clause):
                return True
    return False


def _clauses(sentence: str) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` of the sentence's clauses, split at ``;`` and at contrasting or
    coordinating conjunctions (not at dashes or commas alone: "LoRA - not for attention" and
    "LoRA, a fine-tuning method, does not ..." are one clause each)."""
    bounds = [0, *(m.start() for m in _CLAUSE_BREAK.finditer(sentence)), len(sentence) + 1]
    return [(a, b, sentence[a:b]) for a, b in itertools.pairwise(bounds)]
