"""Notebook JSON that Python cannot take as it is: lone surrogates and nesting deep enough to
exhaust the JSON parser. Each is the submission's own error or note, never the grader's,
and the code in the notebook is still read."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from grader.config import NOTEBOOK_MAX_DEPTH
from grader.intake import extract, load_submission, parsers

STRONG = Path(__file__).resolve().parents[3] / "submissions" / "strong.ipynb"
DEEP = 100_000


def _strong() -> dict:
    return json.loads(STRONG.read_text(encoding="utf-8"))


def _deep_text() -> str:
    text = json.dumps(_strong(), indent=1)
    return text.replace('"metadata": {}', '"metadata": ' + '{"a": ' * DEEP + "1" + "}" * DEEP, 1)


def test_metadata_nested_100000_deep_is_dropped_and_every_cell_read(tmp_path, handout):
    path = tmp_path / "deep.ipynb"
    path.write_text(_deep_text(), encoding="utf-8")
    started = time.monotonic()
    sub = load_submission(path)  # raised RecursionError: "the grader failed on this submission"
    assert time.monotonic() - started < 5
    assert sub.format == "ipynb"
    assert len(sub.cells) == len(_strong()["cells"])
    assert f"deeper than {NOTEBOOK_MAX_DEPTH} levels" in sub.errors[0]
    clean = extract(load_submission(STRONG), handout)
    assert set(extract(sub, handout).definitions) == set(clean.definitions)


def test_a_deep_and_damaged_notebook_is_salvaged_quickly(tmp_path):
    path = tmp_path / "deep_damaged.ipynb"
    text = _deep_text()
    path.write_text(text[: len(text) - 2000], encoding="utf-8")  # cut: invalid JSON too
    started = time.monotonic()
    sub = load_submission(path)
    assert time.monotonic() - started < 10
    assert any(e.startswith("invalid notebook JSON") for e in sub.errors)
    assert any(cell.has_code for cell in sub.cells)  # the intact cells were recovered


def test_drop_deep_values_keeps_strings_and_shallow_values():
    text = '{"a": [1, {"b": [[["x]"]]]}], "c": "{[", "d": {"e": 2}}'
    dropped, count = parsers.drop_deep_values(text, 3)
    assert json.loads(dropped) == {"a": [1, {"b": None}], "c": "{[", "d": {"e": 2}}
    assert count == 1
    assert parsers.drop_deep_values(text, 10) == (text, 0)
    assert parsers.drop_deep_values('{"a": [[[[', 2) == ('{"a": [null', 1)  # unclosed


@pytest.mark.parametrize("cell", [2, 24])  # the attention code cell, the written answers
def test_a_lone_surrogate_is_replaced_and_the_cell_still_read(tmp_path, handout, cell):
    notebook = _strong()
    notebook["cells"][cell]["source"].insert(0, "# a lone surrogate \ud83d here\n")
    path = tmp_path / "surrogate.ipynb"
    path.write_text(json.dumps(notebook), encoding="ascii")  # "\ud83d": legal JSON
    sub = load_submission(path)
    assert "# a lone surrogate \ufffd here" in sub.cells[cell].source
    assert any("lone UTF-16 surrogate" in note for note in sub.notes)
    extracted = extract(sub, handout)
    assert not extracted.syntax_errors  # the comment made the cell unparseable: 43.2/100
    assert "attention" in extracted.definitions


def test_a_parser_failure_is_the_submissions_error(tmp_path, monkeypatch):
    """Should a parser fail on input nobody foresaw, the file is reported unreadable."""

    def fails(text: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(parsers, "parse_ipynb", fails)
    sub = load_submission(STRONG)
    assert sub.format == "unreadable"
    assert "could not be read (RecursionError" in sub.errors[0]
