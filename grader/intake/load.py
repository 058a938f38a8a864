"""Load a submission file into cells, whatever its format, without executing anything.

`load_submission` never raises on what a file contains: an empty, binary, oversized,
mis-encoded or damaged file becomes a `Submission` whose ``errors`` say what was lost and
whose cells hold whatever could still be read. Should a parser still fail on some input
nobody foresaw, that failure is the submission's error too, never the grader's. Only a path that is not a readable file
raises (``OSError``), since that is the caller's mistake, not the candidate's.

Formats are detected from the content first and the file name second, in this order:

1. **ipynb**: the name ends in ``.ipynb``, or the text is a JSON object that mentions
   ``"cells"``/``"nbformat"``. A notebook is unambiguous, so it is tried first. When the
   JSON turns out not to be a notebook at all (a ``.py`` renamed ``.ipynb``), detection
   goes on with the steps below and says so.
2. **notebook-text**: a line that is exactly an ``In [N]:`` / ``In [ ]:`` marker. Such a
   line is a syntax error in Python and rare in prose, and a text export has no other
   reliable sign, so it comes before the formats that could also describe the file.
3. **markdown**: a ```` ```python ```` (or ``py``) fence, unless the file is a ``.py`` that
   parses as Python (a Python file may mention fences inside a string). Seed 000 is a
   ``.txt`` of this kind, so the name alone cannot decide.
4. **py-percent**: a ``# %%`` cell marker line (jupytext); checked after Markdown because a
   Markdown answer may quote one inside a fence.
5. **py**: everything else is read as one Python cell (or cells split at the ``# In[N]:``
   markers of ``jupyter nbconvert --to script``). If it does not parse, extraction reports
   the syntax error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.intake import notebook_text, parsers
from grader.intake.printed import parse_quietly
from grader.intake.submission import Cell, Format, Submission

DEFAULT_MAX_BYTES = 20 * 1024**2
"""Largest submission read. A notebook with plots embedded is a few MB; 20 MB leaves room
for large outputs and still refuses a data file or model checkpoint sent by mistake."""

# Magic numbers of binary files candidates send by mistake, to say what the file is.
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (a zipped folder, .docx or .xlsx)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x7fELF": "an executable",
    b"\x1f\x8b": "a gzip archive",
    b"\x80\x02": "a Python pickle (e.g. a torch checkpoint)",
}
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_SUFFIX_FORMAT: dict[str, Format] = {".ipynb": "ipynb", ".md": "markdown", ".markdown": "markdown"}
_PYTHON_FENCE = re.compile(r"^ {0,3}(```|~~~)\s*(python3?|py|ipython3?)\b", re.MULTILINE)
_PERCENT_MARKER = re.compile(r"^# ?%%", re.MULTILINE)


def load_submission(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Submission:
    """Read the submission at ``path`` into cells (see the module docstring)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such file (a submission must be a file)")
    size = file.stat().st_size
    if size > max_bytes:  # refused from its size alone: a huge file is never read
        return _refused(file, size, max_bytes)
    with file.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we looked
        return _refused(file, len(data), max_bytes)
    return parse_bytes(data, path=str(path), name=safe_name(file), suffix=file.suffix)


def parse_text(
    text: str, *, path: str = "<text>", name: str = "text", suffix: str = ""
) -> Submission:
    """Read text that is already in memory (the handout, a test's fixture) like a file."""
    return parse_bytes(text.encode("utf-8"), path=path, name=name, suffix=suffix)


def parse_bytes(data: bytes, *, path: str, name: str, suffix: str = "") -> Submission:
    """Read the bytes of a submission; ``suffix`` is its file extension, a hint only."""
    suffix = suffix.lower()
    unread = Submission(path, name, "unreadable", hashlib.sha256(data).hexdigest(), len(data))
    binary = _binary_kind(data)
    if binary:
        error = f"binary file ({binary}): expected a notebook, a Python file or Markdown"
        return replace(unread, errors=(error,))
    text, encoding, notes = _decode(data)
    if not text.strip():
        empty = "the file is empty: there is nothing to grade"
        fmt = _SUFFIX_FORMAT.get(suffix, "py")
        return replace(unread, format=fmt, errors=(empty,), notes=tuple(notes), encoding=encoding)
    try:
        reading = _read(text, suffix)
    except Exception as exc:  # noqa: BLE001 - the file's problem, said in its report (RecursionError too)
        what = f"{type(exc).__name__}: {str(exc)[:200]}"
        reading = _Reading("unreadable", [], [f"the file could not be read ({what})"])
    if not any(c.has_code for c in reading.cells):
        reading.errors.append("no code found in the submission: only prose can be graded")
    return replace(
        unread,
        format=reading.format,
        cells=tuple(reading.cells),
        errors=tuple(reading.errors),
        notes=tuple(notes + reading.notes),
        encoding=encoding,
    )


def safe_name(path: Path) -> str:
    """A short name for the submission's output folder: the file's stem with anything but
    letters, digits, ``.``, ``_`` and ``-`` replaced, at most 64 characters."""
    return safe_text(path.stem)


def safe_text(text: str) -> str:
    """``text`` made safe for a folder name, as `safe_name` does with a file's stem."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-")
    return stem[:64] or "submission"


@dataclass
class _Reading:
    """What one format's parser made of the text."""

    format: Format
    cells: list[Cell]
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read(text: str, suffix: str) -> _Reading:
    """Detect the format of decoded text and parse it, in the order of the module docstring."""
    looks_json = text.lstrip().startswith("{") and ('"cells"' in text or '"nbformat"' in text)
    if suffix == ".ipynb" or looks_json:
        cells, errors, notes = parsers.parse_ipynb(text)
        if cells or looks_json:
            return _Reading("ipynb", cells, errors, ["detected a Jupyter notebook (JSON)", *notes])
        reading = _read(text, "")
        why = f"named {suffix} but not a notebook ({errors[0]}); read by its content instead"
        reading.notes.insert(0, why)
        return reading
    if notebook_text.has_markers(text):
        cells = notebook_text.parse_notebook_text(text)
        counted = sum(1 for c in cells if c.kind == "code")
        note = f"detected a notebook exported as text ({counted} `In [N]:` cells)"
        return _Reading("notebook-text", cells, notes=[note])

    def parses() -> bool:  # parsing a large file is slow: only when it decides something
        return parse_quietly(text) is not None

    if _PYTHON_FENCE.search(text) and not (suffix == ".py" and parses()):
        cells, notes = parsers.parse_markdown(text)
        return _Reading("markdown", cells, notes=["detected Markdown with fenced Python", *notes])
    if _PERCENT_MARKER.search(text):
        note = "detected a jupytext py:percent file (`# %%` cells)"
        return _Reading("py-percent", parsers.parse_percent(text), notes=[note])
    if suffix in (".md", ".markdown"):
        cells, notes = parsers.parse_markdown(text)
        return _Reading("markdown", cells, notes=["Markdown without Python fences", *notes])
    if suffix == ".py" or parses():
        note = "read as a Python file"
    else:
        note = "no notebook markers, Python fences or `# %%` cells found: read as Python"
    return _Reading("py", parsers.parse_python(text), notes=[note])


def _decode(data: bytes) -> tuple[str, str, list[str]]:
    """(text, encoding, notes): a byte-order mark decides; else UTF-8, with undecodable
    bytes replaced by U+FFFD and a note saying how many."""
    notes = []
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace")
            notes.append(f"decoded as {encoding} (byte-order mark)")
            break
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            text, encoding = data.decode("utf-8", errors="replace"), "utf-8 (with replacement)"
            bad = text.count("\ufffd")
            notes.append(
                f"not valid UTF-8 (first bad byte at offset {exc.start}): {bad} character(s) "
                "could not be decoded and were replaced by U+FFFD; strings or comments there "
                "may read wrongly"
            )
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding, notes


def _binary_kind(data: bytes) -> str | None:
    """What a binary file is, or ``None`` for text. Text has no NUL bytes (UTF-16 and -32
    files, which do, announce themselves with a byte-order mark) and few control codes."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            return what
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None
    head = data[:65536]
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in head or (head and controls / len(head) > 0.05):
        return "unrecognised binary data"
    return None


def _refused(file: Path, size: int, limit: int) -> Submission:
    error = (
        f"the file is {size / 1024**2:.1f} MB, above the {limit / 1024**2:.0f} MB limit for a "
        "submission: it was not read (a notebook with its outputs is usually under a few MB; "
        "clear large outputs or send the code alone)"
    )
    return Submission(
        path=str(file),
        name=safe_name(file),
        format="unreadable",
        sha256="",
        size_bytes=size,
        errors=(error,),
    )
