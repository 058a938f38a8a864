"""Cell parsers for the formats other than the text export (see `notebook_text`).

Each parser takes decoded text and returns the cells plus the problems it met; none of
them raises on malformed input, because a damaged submission is still graded on whatever
can be read from it.

A notebook's JSON is the one format that can hold what Python cannot carry: a string escape
of a lone UTF-16 surrogate (``"\\ud83d"``), which made a code cell unparseable and a written
answer unwritable, and nesting deep enough (cell metadata 100,000 levels deep) to exhaust
the JSON parser's recursion. Lone surrogates become U+FFFD and values nested deeper than
`grader.config.NOTEBOOK_MAX_DEPTH` are dropped, each with a word to the candidate.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from grader.config import NOTEBOOK_MAX_DEPTH
from grader.intake.printed import (
    explained,
    is_value_display,
    looks_like_code_line,
    looks_like_repr_line,
    parse_quietly,
    templates_of,
)
from grader.intake.submission import Cell, CellKind, has_code
from grader.text import replace_surrogates, surrogate_count

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PERCENT = re.compile(r"^# ?%%(.*)$")
_SCRIPT_MARKER = re.compile(r"^# ?In\[\s*(\d*)\s*\]:?\s*$")  # `jupyter nbconvert --to script`
# An opening fence: up to three spaces, three or more backticks or tildes, then an info
# string that (for backticks) has no backtick, so "```x``` is inline code" is not a fence.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_PYTHON_INFO = {"python", "py", "python3", "ipython", "ipython3", "pycon", "{python}"}
# A JSON string (unrolled: no backtracking on long strings) or a bracket.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


# --- .ipynb --------------------------------------------------------------------------------------


def parse_ipynb(text: str) -> tuple[list[Cell], list[str], list[str]]:
    """Cells of a notebook's JSON, with (errors, notes). Invalid JSON is reported with its
    line and column, and every cell object that is still whole is recovered from it."""
    errors: list[str] = []
    try:
        data = json.loads(text)
    except RecursionError:
        text, dropped = drop_deep_values(text, NOTEBOOK_MAX_DEPTH)
        errors.append(
            f"the notebook's JSON nests deeper than {NOTEBOOK_MAX_DEPTH} levels: {dropped} "
            "value(s) nested deeper (cell metadata, most likely) were dropped unread"
        )
        return _parse_shallow(text, errors)
    except json.JSONDecodeError:
        pass
    else:
        return _from_notebook(data, errors)
    return _parse_shallow(drop_deep_values(text, NOTEBOOK_MAX_DEPTH)[0], errors)


def _parse_shallow(text: str, errors: list[str]) -> tuple[list[Cell], list[str], list[str]]:
    """`parse_ipynb` of JSON nested at most `NOTEBOOK_MAX_DEPTH` levels deep."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = (
            f" at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            if isinstance(exc, json.JSONDecodeError)
            else ": nested too deep"
        )
        salvaged = _salvage_cells(text)
        note = f"recovered {len(salvaged)} intact cell(s) from the damaged notebook"
        cells, surrogates = _notebook_cells(salvaged)
        return cells, [*errors, f"invalid notebook JSON{where}"], [note, *surrogates]
    return _from_notebook(data, errors)


def _from_notebook(data: Any, errors: list[str]) -> tuple[list[Cell], list[str], list[str]]:
    """The cells of decoded notebook JSON."""
    if not isinstance(data, dict):
        return [], [*errors, "the notebook's JSON is not an object"], []
    raw = _raw_cells(data)
    if raw is None:
        return [], [*errors, "the JSON has no list of cells: not a Jupyter notebook"], []
    notes = [
        f"Jupyter notebook, nbformat {data.get('nbformat', '?')}.{data.get('nbformat_minor', '?')}"
    ]
    cells, surrogates = _notebook_cells(raw)
    return cells, errors, notes + surrogates


def drop_deep_values(text: str, limit: int) -> tuple[str, int]:
    """(``text`` with every JSON array or object nested deeper than ``limit`` levels replaced
    by ``null``, how many were replaced). Works on damaged JSON too: it only follows strings
    and brackets, and an unclosed value runs to the end of the text."""
    out: list[str] = []
    kept_from, skip_from, depth, dropped = 0, -1, 0, 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            depth += 1
            if depth == limit + 1:
                skip_from = match.start()
            continue
        if depth == limit + 1 and skip_from >= 0:
            out += [text[kept_from:skip_from], "null"]
            kept_from, skip_from, dropped = match.end(), -1, dropped + 1
        depth = max(0, depth - 1)
    if skip_from >= 0:
        out += [text[kept_from:skip_from], "null"]
        kept_from, dropped = len(text), dropped + 1
    out.append(text[kept_from:])
    return "".join(out), dropped


def _raw_cells(data: dict[str, Any]) -> list[Any] | None:
    """The cell list of nbformat 4, or of nbformat 3's first worksheet."""
    if isinstance(data.get("cells"), list):
        return data["cells"]
    worksheets = data.get("worksheets")
    if isinstance(worksheets, list) and worksheets and isinstance(worksheets[0], dict):
        cells = worksheets[0].get("cells")
        return cells if isinstance(cells, list) else None
    return None


def _salvage_cells(text: str) -> list[dict[str, Any]]:
    """Every JSON object in ``text`` that decodes whole and looks like a cell. Decoding starts
    at each ``{`` that opens an object; a decoded cell's interior is not searched again."""
    decoder = json.JSONDecoder()
    cells, position = [], 0
    for match in re.finditer(r"\{\s*\"", text):
        if match.start() < position:
            continue
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, dict) and "cell_type" in value and "source" in value:
            cells.append(value)
            position = end
    return cells


def _notebook_cells(raw: list[Any]) -> tuple[list[Cell], list[str]]:
    """The cells, with lone surrogates replaced, and a note when there were any."""
    cells = []
    lone = 0
    for item in raw:
        if not isinstance(item, dict):
            continue
        kind: CellKind = "code" if item.get("cell_type") == "code" else "markdown"
        source = _text(item.get("source", item.get("input", "")))
        count = item.get("execution_count", item.get("prompt_number"))
        outputs, stdout = _outputs(item.get("outputs", []))
        lone += surrogate_count(source) + surrogate_count(outputs)
        cells.append(
            Cell(
                index=len(cells),
                kind=kind,
                source=replace_surrogates(source),
                execution_count=count if isinstance(count, int) else None,
                outputs=replace_surrogates(outputs),
                stdout=replace_surrogates(stdout) if kind == "code" else None,
            )
        )
    note = (
        f"{lone} lone UTF-16 surrogate escape(s) (such as \\ud83d without its pair) replaced "
        "by U+FFFD: Python can neither run nor write them"
    )
    return cells, [note] if lone else []


def _outputs(raw: Any) -> tuple[str, str]:
    """(all output text, the stdout streams alone) of one code cell."""
    shown, printed = [], []
    for out in raw if isinstance(raw, list) else []:
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            text = _text(out.get("text", ""))
            shown.append(text)
            if out.get("name", "stdout") == "stdout":
                printed.append(text)
        elif kind in ("execute_result", "display_data", "pyout"):
            data = out.get("data", out)
            shown.append(_text(data.get("text/plain", data.get("text", ""))))
        elif kind in ("error", "pyerr"):
            trace = _text(out.get("traceback", []), sep="\n")
            shown.append(_ANSI.sub("", trace) or f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(s for s in shown if s), "\n".join(s for s in printed if s)


def _text(value: Any, sep: str = "") -> str:
    """A notebook string field: a string or a list of strings."""
    if isinstance(value, list):
        return sep.join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


# --- py:percent and plain Python ---------------------------------------------------------------


def parse_percent(text: str) -> list[Cell]:
    """Cells of a jupytext ``py:percent`` file. Lines before the first ``# %%`` are a code
    cell unless they are only comments (the jupytext header)."""
    lines = text.split("\n")
    markers = [(i, m.group(1)) for i, line in enumerate(lines) if (m := _PERCENT.match(line))]
    starts = [i for i, _ in markers] + [len(lines)]
    cells: list[Cell] = []
    head = lines[: starts[0]]
    if has_code("\n".join(head)):
        cells.append(Cell(0, "code", _trim_end("\n".join(head))))
    for k, (at, options) in enumerate(markers):
        body = lines[at + 1 : starts[k + 1]]
        if re.search(r"\[(markdown|md)\]", options):
            prose = "\n".join(re.sub(r"^# ?", "", line) for line in body).strip("\n")
            cells.append(Cell(len(cells), "markdown", prose, line_offset=at + 1))
        else:
            cells.append(Cell(len(cells), "code", _trim_end("\n".join(body)), line_offset=at + 1))
    return cells


def parse_python(text: str) -> list[Cell]:
    """A plain Python file is one code cell, or one cell per ``# In[N]:`` marker when it
    came from ``jupyter nbconvert --to script`` (whose markers keep the execution counts)."""
    lines = text.split("\n")
    markers = [(i, m.group(1)) for i, line in enumerate(lines) if (m := _SCRIPT_MARKER.match(line))]
    if not markers:
        return [Cell(0, "code", _trim_end(text))]
    starts = [i for i, _ in markers] + [len(lines)]
    cells = []
    if has_code("\n".join(lines[: starts[0]])):  # not just a shebang and a coding line
        cells.append(Cell(0, "code", _trim_end("\n".join(lines[: starts[0]]))))
    for k, (at, count) in enumerate(markers):
        body = _trim_end("\n".join(lines[at + 1 : starts[k + 1]]))
        number = int(count) if count else None
        cells.append(Cell(len(cells), "code", body, number, line_offset=at + 1))
    return cells


def _trim_end(text: str) -> str:
    return text.rstrip() if text.strip() else ""


# --- Markdown with fenced code ---------------------------------------------------------------------


def parse_markdown(text: str) -> tuple[list[Cell], list[str]]:
    """Prose and fenced code of a Markdown answer, with notes.

    A ```` ```python ```` fence is a code cell, except when its content is output pasted
    into a Python fence (seed 000 shows its training log that way): text that does not
    parse, whose lines do not start like statements, and that a print of the previous
    cell explains or that reads as a repr. Such a fence, and an unlabelled or ``text``
    fence that reads as output, becomes the previous code cell's output. Other fences stay
    in the prose."""
    cells: list[Cell] = []
    notes: list[str] = []
    prose: list[str] = []
    prose_start = 0
    lines = text.split("\n")
    i = 0

    def flush_prose() -> None:
        nonlocal prose
        if "\n".join(prose).strip():
            blank = next(k for k, line in enumerate(prose) if line.strip())
            joined = "\n".join(prose[blank:]).rstrip()
            cells.append(Cell(len(cells), "markdown", joined, line_offset=prose_start + blank))
        prose = []

    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            if not prose:
                prose_start = i
            prose.append(lines[i])
            i += 1
            continue
        mark, info = fence.group(1), fence.group(2).lower()
        end = _fence_end(lines, i + 1, mark)
        body = "\n".join(lines[i + 1 : end])
        kind = _fenced_kind(body, info, cells)
        if kind == "code":
            flush_prose()
            cells.append(Cell(len(cells), "code", body, line_offset=i + 1))
        elif kind == "output":
            at = max(k for k, c in enumerate(cells) if c.kind == "code")
            code = cells[at]
            shown = f"{code.outputs}\n{body}" if code.outputs else body
            cells[at] = replace(code, outputs=shown)
            notes.append(f"the fence at line {i + 1} holds output, attached to the code above it")
        else:
            if not prose:
                prose_start = i
            prose.extend(lines[i : end + 1])
        i = end + 1
    flush_prose()
    return cells, notes


def _fence_end(lines: list[str], start: int, mark: str) -> int:
    """Index of the closing fence (same character, at least as long); the end of the file
    closes an unclosed fence."""
    closing = re.compile(rf"^ {{0,3}}{re.escape(mark[0])}{{{len(mark)},}}\s*$")
    for j in range(start, len(lines)):
        if closing.match(lines[j]):
            return j
    return len(lines)


def _fenced_kind(body: str, info: str, cells: list[Cell]) -> str:
    """``code``, ``output`` or ``prose`` for the content of one fence."""
    if not body.strip():
        return "prose"
    previous = next((c for c in reversed(cells) if c.kind == "code"), None)
    tree = parse_quietly(body)
    if info in _PYTHON_INFO or (info == "" and tree is not None and not is_value_display(tree)):
        if tree is not None or previous is None or not _reads_as_output(body, previous):
            return "code"
        return "output"
    plain = info in ("", "text", "txt", "output", "console")
    if previous is not None and plain and _reads_as_output(body, previous):
        return "output"
    return "prose"


def _reads_as_output(body: str, previous: Cell) -> bool:
    """Whether ``body`` is output of ``previous`` rather than code with a syntax error."""
    lines = [
        line for line in body.split("\n") if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines or any(looks_like_code_line(line) for line in lines):
        return False
    templates = templates_of(previous.source)
    return all(explained(line, templates) or looks_like_repr_line(line) for line in lines)
