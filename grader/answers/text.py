"""Prose as patterns should see it: Markdown and LaTeX removed, split into sentences.

`plain` turns ``$\\mathcal{O}(n^{2} \\cdot d)$`` into ``O(n^2 · d)`` and ``**bold**`` into
``bold``; `sentences` splits Markdown lines into sentences that respect bullet lists and
abbreviations (``e.g.``), and gives a bullet the lead-in line that introduced its list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+\S")
"""A Markdown heading; group 1 is its ``#`` marks."""
_ANSWER_MARKER = re.compile(r"^\s*(->|→|=>|(answer|ans|a)\s*[:.)-])\s*", re.IGNORECASE)


_LATEX_WRAPPERS = re.compile(
    r"\\(?:mathcal|mathrm|mathbf|mathit|mathbb|text|textbf|textit|operatorname)\s*\{([^{}]*)\}"
)
_LATEX_SYMBOLS = {  # \dot is an accent, but candidates write $N^2 \dot D$ for a product
    "cdot": " · ",
    "dot": " · ",
    "ast": " · ",
    "times": " × ",
    "approx": " ≈ ",
    "sim": " ~ ",
    "le": " ≤ ",
    "leq": " ≤ ",
    "ge": " ≥ ",
    "geq": " ≥ ",
    "to": " → ",
    "rightarrow": " → ",
}


def plain(text: str) -> str:
    """``text`` without Markdown or LaTeX markup, so patterns see what a reader sees:
    ``$\\mathcal{O}(n^{2} \\cdot d)$`` -> ``O(n^2 · d)``, ``n²`` and ``n**2`` -> ``n^2``,
    ``**bold**``/``*it*``/`` `code` `` -> their text, ``[text](url)`` -> ``text``."""
    text = re.sub(r"</?[A-Za-z][^>]*>", " ", text)  # HTML tags (<br>, <b>), not "n < m > k"
    text = re.sub(r"\[\[\d+\]\]\([^)]*\)|\[\d+\]", "", text)  # citations: [[1]](url), [1]
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images keep their text
    text = text.replace("`", "")
    text = _LATEX_WRAPPERS.sub(r"\1", text)
    text = re.sub(r"\\(left|right|bigl|bigr|big|Big)\b", "", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _LATEX_SYMBOLS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"\^\{([^{}]*)\}", r"^\1", text)
    text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
    text = (
        text.replace("$", "")
        .replace("{", "")
        .replace("}", "")
        .replace("²", "^2")
        .replace("³", "^3")
    )
    text = re.sub(r"(\w|\))(\*\*| \*\* )(\d)", r"\1^\3", text)  # n**2, before bold markers go
    text = text.replace("**", "").replace("__", "")
    # A single * or _ is emphasis only when it hugs words on both ends: `n * n` and
    # `key_padding_mask` keep theirs.
    text = re.sub(r"(?<![\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?![\w*])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_ABBREVIATION = re.compile(
    r"(\b(e\.g|i\.e|etc|vs|cf|al|approx|resp|fig|eq|ca|no|dr|mr|ms)\.|\b[A-Z]\.)$", re.IGNORECASE
)


def sentences(lines: Sequence[str]) -> list[str]:
    """Clean sentences of Markdown ``lines``: paragraphs and bullet items are split apart,
    then split at sentence ends that are not abbreviations; a bullet's first sentence is
    prefixed with the lead-in line ending in ``:`` that introduced the list."""
    out: list[str] = []
    lead = ""
    for kind, unit in _units(lines):
        found = _split(_ANSWER_MARKER.sub("", plain(unit), count=1))
        if not found:
            continue
        if kind == "bullet" and lead:
            found[0] = f"{lead} {found[0]}"
        elif kind != "bullet":
            lead = found[-1] if found[-1].endswith(":") else ""
        out += found
    return out


def _units(lines: Sequence[str]) -> list[tuple[str, str]]:
    """``(kind, text)`` of each paragraph, bullet item and heading; a line that is not a new
    bullet, heading or blank continues the unit before it (Markdown's lazy continuation)."""
    units: list[tuple[str, list[str]]] = []
    for line in lines:
        if not line.strip():
            units.append(("break", []))
        elif HEADING.match(line):
            units.append(("heading", [line.lstrip().lstrip("#")]))
        elif _BULLET.match(line):
            units.append(("bullet", [_BULLET.sub("", line, count=1)]))
        elif units and units[-1][0] in ("paragraph", "bullet"):
            units[-1][1].append(line)
        else:
            units.append(("paragraph", [line]))
    return [(kind, " ".join(parts)) for kind, parts in units if parts]


MAX_SENTENCE_CHARS = 600
"""Longer "sentences" (a pasted log, a table, text without full stops) are cut into pieces of
about this size: real sentences are shorter, and some patterns cost time quadratic in the
length of what they search (a 100 kB run-on line took minutes in one piece)."""


def _split(text: str) -> list[str]:
    """Sentences of one paragraph: split after ``.``/``!``/``?`` and a space, joined back
    where the piece before ends in an abbreviation or the next one starts in lower case."""
    pieces = [p for p in re.split(r"(?<=[.!?])[\"')\]]*\s+", text) if p]
    out: list[list[str]] = []
    for piece in pieces:
        if out and (_ABBREVIATION.search(out[-1][-1][-12:]) or piece[0].islower()):
            out[-1].append(piece)
        else:
            out.append([piece])
    return [chunk for parts in out for chunk in _cut(" ".join(parts).strip()) if chunk]


def _cut(sentence: str) -> list[str]:
    """``sentence`` in pieces of at most `MAX_SENTENCE_CHARS`, at spaces where it can."""
    pieces = []
    while len(sentence) > MAX_SENTENCE_CHARS:
        cut = sentence.rfind(" ", 0, MAX_SENTENCE_CHARS)
        cut = cut if cut > 0 else MAX_SENTENCE_CHARS
        pieces.append(sentence[:cut])
        sentence = sentence[cut:].lstrip()
    return [*pieces, sentence]


def capped(lines: Sequence[str], limit: int) -> list[str]:
    """The first ``limit`` characters of ``lines``, as lines."""
    kept: list[str] = []
    for line in lines:
        if limit <= 0:
            break
        kept.append(line[:limit])
        limit -= len(line) + 1
    return kept
