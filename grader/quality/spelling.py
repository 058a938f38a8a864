"""Misspelled words in the identifiers the candidate defined (``positional_enconding``).

Identifiers are split into words (snake_case and CamelCase); a word is accepted when it is in
an English dictionary (pyspellchecker's, which ships offline) or in the programming and ML
vocabulary of `grader.quality.vocabulary`, or is built from such words. A word is reported
only when it is also within a small edit distance of a known word: an unknown word with no
near neighbour is jargon (``swiglu``), not a slip, and flagging it would be noise. Comments,
strings and names the candidate only uses (library or handout names) are not checked.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache

from spellchecker import SpellChecker

from grader.config import QualityConfig
from grader.quality.source import DefinitionNode, Program
from grader.quality.vocabulary import VOCABULARY
from grader.result import Finding

# An all-capital run (HTTP in HTTPServer), a capitalised or lower-case word, or digits.
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Plurals only: stripping -ing or -ed would accept ``embeding`` as embed + ing.
_SUFFIXES = ("s", "es")
# British spellings and their American forms (the dictionary is American; the test itself
# asks for "optimisations"): normalise, optimiser, colour, centre, modelling.
_BRITISH = (
    (re.compile(r"is(e|es|ed|er|ers|ing|ation|ations)$"), r"iz\1"),
    (re.compile(r"ys(e|es|ed|er|ing)$"), r"yz\1"),
    (re.compile(r"our(s|ed|ing)?$"), r"or\1"),
    (re.compile(r"tre(s)?$"), r"ter\1"),
    (re.compile(r"ll(ing|ed|er|ers)$"), r"l\1"),
)
_MIN_COMPOUND_PART = 3
"""Shortest part of a run-together word; English parts must be one longer, because the
dictionary holds fragments such as ``ing`` that would let any misspelling through."""


@lru_cache(maxsize=1)
def _english() -> SpellChecker:
    """The English dictionary, loaded once (about 0.2 s)."""
    return SpellChecker(language="en", distance=2)


def split_identifier(name: str) -> list[str]:
    """Lower-case words of an identifier: ``positional_enconding`` -> positional, enconding;
    ``MultiHeadAttention`` -> multi, head, attention. Digits are dropped."""
    return [w.lower() for w in _WORD.findall(name) if not w.isdigit()]


def is_known(word: str) -> bool:
    """Whether ``word`` (lower case) is English, vocabulary, or made of them."""
    if _is_word(word) or any(_is_word(p.sub(r, word)) for p, r in _BRITISH if p.search(word)):
        return True
    stems = [word[: -len(s)] for s in _SUFFIXES if word.endswith(s) and len(word) > len(s) + 2]
    if word.endswith("ies"):
        stems.append(word.removesuffix("ies") + "y")  # entropies
    if any(_is_word(stem) for stem in stems):
        return True
    if word.startswith("n") and _is_word(word[1:]):  # ntokens, nlayers: "number of"
        return True
    return any(
        _is_part(word[:cut]) and _is_part(word[cut:])
        for cut in range(_MIN_COMPOUND_PART, len(word) - _MIN_COMPOUND_PART + 1)
    )


def suggestion(word: str, config: QualityConfig) -> str | None:
    """The most frequent known word within the allowed edit distance of ``word``, or None."""
    spell = _english()
    long_word = len(word) >= config.long_word_length
    max_distance = config.spelling_distance_long if long_word else 1
    candidates = _known(spell.edit_distance_1(word))
    if not candidates and max_distance >= 2:
        candidates = _known(spell.edit_distance_2(word))
    if not candidates:
        return None
    # Prefer a vocabulary term (``tokenzier`` -> tokenizer), then the commonest English word.
    return max(sorted(candidates), key=lambda w: (w in VOCABULARY, spell.word_usage_frequency(w)))


def spelling_findings(
    program: Program, config: QualityConfig
) -> tuple[dict[str, str], list[Finding]]:
    """Each misspelled word (with its likely spelling) in identifiers the candidate defined,
    reported once, at the first definition that uses it."""
    misspelled: dict[str, str] = {}
    findings = []
    checked: set[str] = set()
    for name, node in defined_identifiers(program):
        for word in split_identifier(name):
            if word in checked or len(word) < config.min_word_length:
                continue
            checked.add(word)
            if is_known(word):
                continue
            correct = suggestion(word, config)
            if correct is None:
                continue  # jargon with no near neighbour, not a slip
            misspelled[word] = correct
            findings.append(
                Finding(
                    rule="readability.spelling",
                    criterion="readability",
                    message=(
                        f"`{name}`: '{word}' looks like a misspelling of '{correct}'; a "
                        "misspelled name is hard to search for and trips every reader."
                    ),
                    line=node.lineno,
                    severity="minor",
                    symbol=program.symbol(node),
                )
            )
    return misspelled, findings


def defined_identifiers(program: Program) -> list[tuple[str, ast.AST]]:
    """(name, node) of each name the candidate defines on their lines, in source order:
    functions, classes, parameters, assigned variables and ``self.<attribute>`` targets.
    Imports are left out (their names are the library's)."""
    found = []
    for node in ast.walk(program.tree):
        name = _defined_name(node)
        if name is not None and program.owns_line(node.lineno):  # type: ignore[attr-defined]
            found.append((name, node))
    found.sort(key=lambda item: (item[1].lineno, item[1].col_offset))  # type: ignore[attr-defined]
    return found


def _defined_name(node: ast.AST) -> str | None:
    """The name ``node`` defines, if it defines one."""
    if isinstance(node, DefinitionNode):
        return node.name
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        return node.id
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return node.attr
    return None


def _is_word(word: str) -> bool:
    return word in VOCABULARY or word in _english()


def _is_part(part: str) -> bool:
    """Whether ``part`` can be one half of a run-together word."""
    if part in VOCABULARY:
        return len(part) >= _MIN_COMPOUND_PART
    return len(part) > _MIN_COMPOUND_PART and part in _english()


def _known(words: set[str] | list[str]) -> set[str]:
    """The words that are English or vocabulary."""
    return {w for w in words if _is_word(w)}
