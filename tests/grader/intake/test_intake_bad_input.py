"""Damaged, empty, binary, huge and mis-encoded submissions: a clear message, and whatever
can still be graded is."""

from __future__ import annotations

import pytest

from grader.intake import DEFAULT_MAX_BYTES, extract, load_submission, resolve

ATTENTION = "def attention(query, key, value, mask=None, dropout=None):\n    return value"


def test_invalid_notebook_json_recovers_intact_cells(seed, tmp_path, handout):
    text = seed("004_734e6d95a3c1a91f.ipynb").read_text(encoding="utf-8")
    damaged = tmp_path / "damaged.ipynb"
    damaged.write_text(text[: len(text) * 6 // 10], encoding="utf-8")  # cut mid-file
    sub = load_submission(damaged)
    assert sub.format == "ipynb"
    assert sub.errors[0].startswith("invalid notebook JSON at line ")
    assert any("recovered" in note for note in sub.notes)
    extracted = extract(sub, handout)
    assert {"attention", "MultiHeadSelfAttention", "EncoderBlock"} <= set(extracted.definitions)
    assert "evaluate" not in extracted.definitions  # it was in the lost half


def test_a_broken_cell_in_the_middle_of_the_json(write_notebook):
    path = write_notebook(
        ("code", "import torch", 1),
        ("code", "x = 'one'", 2),
        ("code", ATTENTION, 3),
    )
    text = path.read_text()
    path.write_text(text.replace("\"x = 'one'\"", "\"x = 'one'", 1))  # unterminated string
    sub = load_submission(path)
    assert sub.errors and "invalid notebook JSON" in sub.errors[0]
    assert "attention" in extract(sub).definitions


def test_not_a_notebook_despite_the_name(tmp_path):
    path = tmp_path / "renamed.ipynb"
    path.write_text(ATTENTION + "\n")
    sub = load_submission(path)
    assert sub.format == "py"
    assert "not a notebook" in sub.notes[0]
    assert "attention" in extract(sub).definitions


def test_syntax_error_in_one_cell(write_notebook, transformer):
    path = write_notebook(
        ("code", "import torch", 1),
        ("code", "class EncoderBlock:\n    def forward(self, x:\n        return x", 2),
        ("code", ATTENTION, 3),
    )
    extracted = extract(load_submission(path))
    (error,) = extracted.syntax_errors
    assert (error.cell, error.line, error.names) == (1, 2, ("EncoderBlock",))
    assert error.message
    assert "attention" in extracted.definitions and "torch" in extracted.definitions
    resolved = resolve(extracted, transformer)
    assert resolved["attention"].found
    block = resolved["encoder_block"]
    assert not block.found and "syntax error at line 2" in block.message


def test_empty_file(tmp_path, transformer):
    path = tmp_path / "empty.py"
    path.write_bytes(b"")
    sub = load_submission(path)
    assert sub.cells == () and "empty" in sub.errors[0]
    extracted = extract(sub)
    assert extracted.source == "" and extracted.errors == sub.errors
    resolved = resolve(extracted, transformer)
    assert not any(r.found for r in resolved.values())
    assert all(r.message.startswith("not found") for r in resolved.values())


@pytest.mark.parametrize(
    ("data", "what"),
    [(b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"), (bytes(range(256)) * 4, "binary data")],
)
def test_binary_file(tmp_path, data, what):
    path = tmp_path / "answer.ipynb"
    path.write_bytes(data)
    sub = load_submission(path)
    assert sub.format == "unreadable" and sub.cells == ()
    assert sub.errors[0].startswith("binary file") and what in sub.errors[0]


def test_huge_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.py"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024**2)  # sparse: no 100 MB written
    sub = load_submission(path)
    assert sub.format == "unreadable" and sub.sha256 == ""
    assert sub.size_bytes == 100 * 1024**2
    assert "100.0 MB, above the 20 MB limit" in sub.errors[0]
    assert DEFAULT_MAX_BYTES < sub.size_bytes


def test_non_utf8_text_is_decoded_with_replacement(tmp_path):
    path = tmp_path / "latin1.py"
    path.write_bytes("# café\nNAME = 'naïve'\n".encode("latin-1") + ATTENTION.encode())
    sub = load_submission(path)
    assert sub.encoding == "utf-8 (with replacement)"
    assert "not valid UTF-8" in sub.notes[0] and "2 character(s)" in sub.notes[0]
    assert {"NAME", "attention"} <= set(extract(sub).definitions)


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "utf16.py"
    path.write_bytes(ATTENTION.encode("utf-16"))
    sub = load_submission(path)
    assert sub.encoding == "utf-16"
    assert "attention" in extract(sub).definitions


def test_missing_path_is_the_callers_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_submission(tmp_path / "nothing.ipynb")
