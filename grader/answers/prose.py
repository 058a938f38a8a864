"""Whether a sentence states something, or only lists terms (issue 17).

A rubric point is earned by a sentence that states it. Before this module a list of
buzzwords ("quadratic, O(n^2), memory, sparse attention, Linformer, FlashAttention") matched
every pattern and scored 100 %. A sentence now counts for the rubric only when it reads as
prose: enough words, some of them the small words that hold a statement together ("is",
"the", "because", "each"), and not a comma-separated run of short items. Misconceptions are
still looked for in every sentence: a list can state a wrong claim as well as a right one.
"""

from __future__ import annotations

import re

from grader.config import DEFAULT_ANSWERS, AnswerConfig

_WORD = re.compile(r"\b[OΘΩ]\([^()]*(?:\([^()]*\)[^()]*)*\)|[A-Za-z][A-Za-z'’-]*|\d+")
"""A word: a complexity such as ``O(n^2 d)`` counts as one, like the noun it stands for."""
_FUNCTION_TEXT = """
a an the this that these those it its they their them there which who whose what when
where why how is are was were be been being has have had do does did can could will
would should may might must shall of to in on at by for from with without into onto
over under between through per as than then so because since if unless while whereas
although though but and or nor not no only also each every all both either any some
more most less fewer such same other another one two we you i he she our your my his
her us me just even very instead rather about across after before during against among
up down out off again why
"""
FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())
"""The small words of English that carry no topic: a statement has some, a list of terms
almost none."""


def words(sentence: str) -> list[str]:
    """The words of ``sentence`` (letters, or a run of digits), lower-cased."""
    return [w.lower() for w in _WORD.findall(sentence)]


def is_prose(sentence: str, config: AnswerConfig = DEFAULT_ANSWERS) -> bool:
    """Whether ``sentence`` can earn a rubric point (see the module docstring)."""
    found = words(sentence)
    if len(found) < config.min_sentence_words:
        return False
    small = sum(w in FUNCTION_WORDS for w in found)
    if small < config.min_function_words or small / len(found) < config.min_function_share:
        return False
    items = [i for i in re.split(r"[,;/|]|\s[-–—]\s", sentence) if i.strip()]
    short = sum(len(words(i)) <= 3 for i in items)
    return not (len(items) >= config.list_items and short / len(items) >= 0.75)


def stated(found: list[str], config: AnswerConfig = DEFAULT_ANSWERS) -> list[str]:
    """The sentences of an answer that may earn rubric points. An answer written in prose
    (at least as many words in prose sentences as in the rest) keeps its terse parts too: a
    list of methods after "Methods:" names them as the question asks. An answer that is
    mostly terms keeps only its prose sentences: a bare list earns little."""
    prose = [s for s in found if is_prose(s, config)]
    rest = [s for s in found if s not in prose]
    if sum(len(words(s)) for s in prose) >= sum(len(words(s)) for s in rest):
        return list(found)
    return prose
