"""`grader.text.clean`, the one boundary candidate text crosses on its way into a result:
lone surrogates replaced, control characters made visible, length bounded, and the same text
again when cleaned twice (a re-rendered report must not change)."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.text import (
    CleanStream,
    clean,
    one_line,
    raw_stream,
    replace_surrogates,
    surrogate_count,
    truncate,
)

RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What no cleaned text may hold: C0 but tab and newline, DEL, C1, bidirectional overrides."""

ANY_CHARACTER = st.characters(codec=None, categories=None)
"""Every code point, surrogates and controls included (Hypothesis leaves surrogates out by
default)."""


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    assert clean("cost \ud83d here") == "cost \ufffd here"
    assert clean("\udc00") == "\ufffd"
    clean("\ud83d").encode("utf-8")  # writable: this raised UnicodeEncodeError and lost the grade


def test_a_surrogate_pair_becomes_its_character() -> None:
    assert clean("\ud83d\ude00") == "\U0001f600"
    assert replace_surrogates("a\ud83d\ude00b\ud83d") == "a\U0001f600b\ufffd"
    assert surrogate_count("a\ud83d\ude00b\ud83d") == 3


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x00", "\u2400"),  # NUL
        ("\x08", "\u2408"),  # BS
        ("\x1b", "\u241b"),  # ESC
        ("\r", "\u240d"),
        ("\x7f", "\u2421"),  # DEL
        ("\x9b", "\\x9b"),  # C1 CSI: a one-byte escape sequence introducer on some terminals
        ("\u202e", "\\u202e"),  # right-to-left override (Trojan Source)
    ],
)
def test_control_characters_are_made_visible(raw: str, shown: str) -> None:
    assert clean(f"a{raw}b") == f"a{shown}b"


def test_terminal_escape_sequences_lose_their_escape() -> None:
    title_clear_link_colour = (
        "\x1b]0;title\x07\x1b[2J\x1b]8;;https://x.example\x1b\\link\x1b]8;;\x1b\\\x1b[31mred"
    )
    cleaned = clean(title_clear_link_colour)
    assert "\x1b" not in cleaned and "\x07" not in cleaned
    assert cleaned.startswith("\u241b]0;title\u2407\u241b[2J")  # still readable


def test_tab_newline_and_ordinary_text_are_kept() -> None:
    text = "def f(x):\n\treturn x  # é 中文 \U0001f600 <b>&amp;</b>"
    assert clean(text) == text


def test_a_long_text_is_cut_with_a_note_inside_the_limit() -> None:
    cut = clean("x" * 10_000, 100)
    assert len(cut) <= 100
    kept, more = re.fullmatch(r"(x+)\.\.\. \(([\d,]+) more characters\)", cut).groups()
    assert len(kept) + int(more.replace(",", "")) == 10_000  # the note counts what was cut
    assert truncate("short", 100) == "short"


def test_one_line_is_the_first_line_cleaned_and_bounded() -> None:
    assert one_line("boom \x1b[2J\nTraceback ...") == "boom \u241b[2J"
    assert len(one_line("y" * 1000, 50)) <= 50


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(ANY_CHARACTER, max_size=300), st.integers(min_value=30, max_value=400))
def test_cleaned_text_is_writable_visible_bounded_and_stable(text: str, limit: int) -> None:
    cleaned = clean(text, limit)
    cleaned.encode("utf-8")  # no lone surrogate left
    assert not RAW_CONTROL.search(cleaned)
    assert len(cleaned) <= limit
    assert clean(cleaned, limit) == cleaned  # idempotent: re-rendering changes nothing
    if len(text) <= limit and not RAW_CONTROL.search(text) and not surrogate_count(text):
        assert cleaned == text  # ordinary text is never altered


def test_a_clean_stream_writes_what_print_gives_it_cleaned() -> None:
    target = io.StringIO()
    stream = CleanStream(target)
    print("name \x1b]0;title\x07 \ud83d", file=stream)
    assert target.getvalue() == "name \u241b]0;title\u2407 \ufffd\n"
    assert stream.isatty() is False and raw_stream(stream) is target
