"""The one text-sanitising function: what a submission or a worker says, made safe to keep.

Everything in a result that came from the candidate (their code, answers, printed output,
exception types and messages, tracebacks, file names) reaches files, a browser, a CI log
and the interviewer's terminal. Three things in such text do harm there, whatever the
format:

* **lone UTF-16 surrogates** (``\\ud83d``: legal in a JSON string and in a Python string
  escape, but not encodable as UTF-8). Writing one to a UTF-8 file raises, which killed the
  grading process and lost the grade. A surrogate *pair* is joined into its character, a
  lone one becomes U+FFFD.
* **control characters**: C0 (except tab and newline), DEL and C1. On a terminal ESC starts
  sequences that set the window title, clear the screen, draw hyperlinks (OSC 8) or change
  colours; in XML most of them make the file invalid; in a Markdown page they are invisible
  noise. They are made *visible*, never silently dropped, so the reader still sees that the
  candidate sent them: C0 and DEL as their Unicode Control Pictures (ESC is ``␛``), C1 and
  the bidirectional overrides behind "Trojan Source" (CVE-2021-42574) as ``\\x85`` /
  ``\\u202e`` escapes.
* **length**: a field is cut at ``limit`` characters, the cut marked with
  ``... (N more characters)``. The note counts against the limit, so cleaning a cleaned
  text again changes nothing (re-rendering a report from ``result.json`` is stable).

Each report format then escapes for itself (HTML autoescape, Markdown, XML): this function
makes text *safe to carry*, the formats make it *inert where it lands*.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_PICTURES = 0x2400
"""U+2400..U+241F picture C0 control 0..31; U+2421 pictures DEL."""


def clean(text: object, limit: int | None = None) -> str:
    """``text`` (any value, through ``str``) with lone surrogates replaced, control
    characters made visible and at most ``limit`` characters (None: no limit)."""
    text = text if isinstance(text, str) else str(text)
    text = replace_surrogates(text)
    text = _CONTROL.sub(_visible, text)
    return truncate(text, limit)


def replace_surrogates(text: str) -> str:
    """``text`` with every surrogate pair joined and every lone surrogate made U+FFFD.

    Intake uses this alone on code (which must still run as written otherwise); `clean`
    uses it on everything it keeps."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def surrogate_count(text: str) -> int:
    """How many surrogates ``text`` holds (a Python string never joins a pair on its own)."""
    return len(_SURROGATE.findall(text))


def truncate(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters, the note saying how many were cut included."""
    if limit is None or len(text) <= limit:
        return text
    cut = max(0, limit - len(_note(len(text))))
    return text[:cut] + _note(len(text) - cut)


def one_line(text: object, limit: int = 300) -> str:
    """`clean` text for one line of console output: the first line only, at most ``limit``
    characters (a message's first line is where it says what happened)."""
    first = clean(text).split("\n", 1)[0]
    return truncate(first, limit)


def _note(cut: int) -> str:
    return f"... ({cut:,} more characters)"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(_CONTROL_PICTURES + code)
    if code == 0x7F:
        return "\u2421"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


class CleanStream:
    """A text stream that writes everything through `clean`: the console streams of the CLI
    and of each grading process, so that no ``print`` anywhere (a file name, a result's
    message, a traceback quoting the candidate) can write a raw escape sequence to the
    interviewer's terminal or a CI log. Everything else is the wrapped stream's."""

    def __init__(self, wrapped: TextIO) -> None:
        self.wrapped = wrapped

    def write(self, text: str) -> int:
        return self.wrapped.write(clean(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def raw_stream(stream: TextIO) -> TextIO:
    """The stream under a `CleanStream`: for the progress display's own cursor movements,
    whose text it cleans itself."""
    return getattr(stream, "wrapped", stream)
