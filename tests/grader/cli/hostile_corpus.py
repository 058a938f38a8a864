"""Hostile and odd submissions, one trait each, made from two correct ones at test time.

Every file is a correct submission (`tests/catalogue/base.py`, a complete Python answer, or
`submissions/strong.ipynb`, a complete notebook) plus one trait that once cost a grade, the
grader or the interviewer's terminal (issue 15), or that real candidates send (a BOM, CRLF,
tabs, nbformat 3, a shebang and a ``__main__`` block). Big files (5,000 extra cells, a
200,000-line string, metadata nested 100,000 deep) are generated rather than committed.

`Trait.like` names the clean submission whose task verdicts the trait's file must keep
(``None``: the trait breaks the code on purpose, `Trait.statuses` says what it must get).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[3]
BASE = ROOT / "tests" / "catalogue" / "base.py"
NOTEBOOK = ROOT / "submissions" / "strong.ipynb"
BASE_NAME, NOTEBOOK_NAME = "clean_base.py", "clean_strong.ipynb"
"""The two clean submissions, graded in the same batch as the traits."""

MHSA_RAISE = 'raise ValueError(f"dim={dim} must be divisible by n_heads={n_heads}")'
"""The line of base.py that the exception traits rewrite: `rejects_indivisible` passes and
quotes the message, so a hostile message reaches every report while the code stays correct."""
CODE_CELL, ANSWER_CELL = 2, 24
"""strong.ipynb's attention cell and its written-answers cell."""

SURROGATE = "\ud83d"
TERMINAL = (
    "\x1b]0;pwned window title\x07"  # window title
    "\x1b[2J\x1b[H"  # clear screen, cursor home
    "\x1b]8;;https://example.com/phish\x1b\\click here\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    "\x1b[31;1mred\x1b[0m"  # colours
)
CONTROLS = "NUL\x00 BS\x08 ESC\x1b DEL\x7f C1\x9b"
HTML = (
    "<script>window.__pwned = 1</script>"
    '<img src=x onerror="window.__pwned = 2; alert(2)">'
    '<a href="javascript:window.__pwned = 3">click</a>'
    "<svg onload=alert(4)></svg>"
    "![tracker](https://example.com/pixel.png) [link](javascript:alert(5)) ]]> &amp;"
)
"""Markup a hostile candidate plants: a script, event handlers, a javascript: link, a remote
image in Markdown, and the end of an XML CDATA section."""
WEIRD_FILE_NAME = os.fsdecode(b"name \x1b[31m \xff <img src=x onerror=alert(6)>.py")
"""A file name with a terminal escape, a byte that is not UTF-8 and markup."""


@dataclass(frozen=True)
class Trait:
    file_name: str
    make: Callable[[], bytes]
    like: str | None
    """The clean submission whose task statuses this one must get, or None."""
    statuses: str | None = None
    """With ``like`` None: the status every task must get."""


def _base() -> str:
    return BASE.read_text(encoding="utf-8")


def _notebook() -> dict:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))


def _json(notebook: dict) -> bytes:
    """Notebook JSON as Jupyter writes it, every non-ASCII character (a lone surrogate and
    control characters included) as a legal ``\\uXXXX`` escape."""
    return json.dumps(notebook, indent=1, ensure_ascii=True).encode("ascii")


def _with_message(message_literal: str) -> bytes:
    """base.py with multi-head attention refusing a bad width with this message."""
    text = _base()
    assert MHSA_RAISE in text, "base.py no longer has the line the exception traits rewrite"
    return text.replace(MHSA_RAISE, f"raise ValueError({message_literal})").encode()


def _notebook_with(cell: int, line: str, *, first: bool = False) -> bytes:
    notebook = _notebook()
    source = notebook["cells"][cell]["source"]
    if first:
        source.insert(0, line)
    else:
        source.append(line)
    return _json(notebook)


def _answer_surrogate() -> bytes:
    return _notebook_with(ANSWER_CELL, f"\nThe cost grows fast {SURROGATE} as n grows.\n")


def _comment_surrogate() -> bytes:
    return _notebook_with(CODE_CELL, f"# attention, as in the paper {SURROGATE}\n", first=True)


def _text_controls() -> bytes:
    notebook = _notebook()
    notebook["cells"][ANSWER_CELL]["source"].append(f"\nControl characters: {CONTROLS}\n")
    code = CONTROLS.replace("\x00", "")  # NUL is a syntax error anywhere in Python source
    notebook["cells"][CODE_CELL]["source"].insert(0, f"# {code}\n")
    return _json(notebook)


def _load_error() -> bytes:
    """Loading fails (a class body raises), so the message is the submission's error: the
    line the console prints for it, and a line of summary.md."""
    message = json.dumps(f"{TERMINAL} {CONTROLS} {HTML}")
    return (_base() + f"\n\nclass Broken:\n    raise RuntimeError({message})\n").encode()


def _extra_cells() -> bytes:
    notebook = _notebook()
    for i in range(5000):
        notebook["cells"].append(
            {
                "cell_type": "code",
                "execution_count": 5000 - i,
                "metadata": {},
                "outputs": [
                    {"name": "stdout", "output_type": "stream", "text": [f"step {i}\n" * 20]}
                ],
                "source": [f"value_{i} = {i} * 2\n", f"print(value_{i})\n"],
            }
        )
    return _json(notebook)


def _long_string() -> bytes:
    lines = "".join(f"line {i} of a long constant\n" for i in range(200_000))
    return (_base() + f'\n\nCORPUS = """\n{lines}"""\n').encode()


def _deep_metadata() -> bytes:
    text = _json(_notebook()).decode("ascii")
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    marker = '"metadata": {}'
    assert marker in text
    return text.replace(marker, f'"metadata": {deep}', 1).encode("ascii")


def _tabs() -> bytes:
    lines = []
    for line in _base().split("\n"):
        stripped = line.lstrip(" ")
        lines.append("\t" * ((len(line) - len(stripped)) // 4) + stripped)
    return "\n".join(lines).encode()


def _nbformat3() -> bytes:
    notebook = nbformat.reads(NOTEBOOK.read_text(encoding="utf-8"), as_version=4)
    return nbformat.writes(nbformat.convert(notebook, 3), version=3).encode()


def _empty() -> bytes:
    return _json({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _main_block() -> bytes:
    main = """

if __name__ == "__main__":
    torch.manual_seed(0)
    tokens = torch.randint(0, 50, (20 * 200,)).view(-1, 20)  # (seq, batch)
    model = TransformerModelManualAttn(50, 32, 2, 64, 2, 0.1)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=5.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.95)
    for epoch in range(1, 4):
        train(model, tokens, 35, criterion, 50, optimizer, scheduler, epoch)
        print(epoch, evaluate(model, tokens, 35, 50, criterion))
"""
    return ("#!/usr/bin/env python3\n" + _base() + main).encode()


def _html_payloads() -> bytes:
    notebook = _notebook()
    notebook["cells"][ANSWER_CELL]["source"].append(f"\n{HTML}\n")
    notebook["cells"][CODE_CELL]["source"].insert(0, f"# {HTML}\n")
    notebook["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": [f"## Notes {HTML}\n"]}
    )
    return _json(notebook)


TRAITS: tuple[Trait, ...] = (
    Trait("answer_surrogate.ipynb", _answer_surrogate, NOTEBOOK_NAME),
    Trait("comment_surrogate.ipynb", _comment_surrogate, NOTEBOOK_NAME),
    Trait("exception_surrogate.py", lambda: _with_message('"no \\ud83d split"'), BASE_NAME),
    Trait("exception_escapes.py", lambda: _with_message(json.dumps(TERMINAL)), BASE_NAME),
    Trait("exception_html.py", lambda: _with_message(json.dumps(HTML)), BASE_NAME),
    Trait("text_controls.ipynb", _text_controls, NOTEBOOK_NAME),
    Trait("load_error.py", _load_error, None, "error"),
    Trait("extra_cells.ipynb", _extra_cells, NOTEBOOK_NAME),
    Trait("long_string.py", _long_string, BASE_NAME),
    Trait("deep_metadata.ipynb", _deep_metadata, NOTEBOOK_NAME),
    Trait("summary.json.py", lambda: _base().encode(), BASE_NAME),
    Trait("index.html.py", lambda: _base().encode(), BASE_NAME),
    Trait("bom.py", lambda: b"\xef\xbb\xbf" + _base().encode(), BASE_NAME),
    Trait("crlf.py", lambda: _base().replace("\n", "\r\n").encode(), BASE_NAME),
    Trait("tabs.py", _tabs, BASE_NAME),
    Trait("nbformat3.ipynb", _nbformat3, NOTEBOOK_NAME),
    Trait("empty.ipynb", _empty, None, "missing"),
    Trait("main_block.py", _main_block, BASE_NAME),
    Trait("html_payloads.ipynb", _html_payloads, NOTEBOOK_NAME),
    Trait(WEIRD_FILE_NAME, lambda: _base().encode(), BASE_NAME),
)


def write_corpus(folder: Path, traits: tuple[Trait, ...] = TRAITS) -> dict[str, Path]:
    """Write the clean submissions and these traits' files into ``folder``; file name ->
    path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {BASE_NAME: BASE.read_bytes(), NOTEBOOK_NAME: NOTEBOOK.read_bytes()}
    files |= {trait.file_name: trait.make() for trait in traits}
    paths = {}
    for name, content in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(content)
    return paths
