"""Reading and writing report files: atomically, so a reader never sees half a file.

A batch may be interrupted (a timeout, Ctrl-C) while a report is being written; the CI job or
the interviewer then opens whatever is on disk. Writing to a temporary file in the same
folder and renaming it over the target (``os.replace`` is atomic on one file system) means
the file is either the old one or the complete new one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from grader.bounded import bounded
from grader.config import TRUST, TrustConfig
from grader.result import SCHEMA_VERSION, SubmissionResult
from grader.text import surrogate_count


class ReportError(ValueError):
    """A result file cannot be read back (missing, not JSON, another schema)."""


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are meant to be shared.
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def dump_json(data: Any) -> str:
    """Strict JSON (no NaN literals: `to_jsonable` already spelled them as strings). Data read
    from someone else's file may hold a lone surrogate (a legal ``\\ud83d`` escape) that UTF-8
    cannot encode: then every non-ASCII character is written as an escape, the same data."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    if surrogate_count(text):
        text = json.dumps(data, indent=2, ensure_ascii=True, allow_nan=False)
    return text + "\n"


def read_json(path: Path | str, trust: TrustConfig = TRUST) -> Any:
    """Read a JSON file someone else may have written: bounded in size and nesting, so a
    huge or deeply nested file is a `ReportError` with a reason, never a crash."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > trust.max_result_bytes:
            raise ReportError(
                f"{path}: {size / 1024**2:.1f} MB, above the {trust.max_result_bytes / 1024**2:.0f} MB "
                "limit for a result file"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: cannot read a result: {exc}") from exc
    except RecursionError:
        raise ReportError(f"{path}: JSON nested too deeply to read") from None
    if json_depth(data) > trust.max_json_depth:
        raise ReportError(
            f"{path}: JSON nested more than {trust.max_json_depth} levels deep (refused)"
        )
    return data


def json_depth(data: Any) -> int:
    """How deeply objects and arrays nest in ``data`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            stack += [(child, depth + 1) for child in children]
    return deepest


def load_result(path: Path | str) -> SubmissionResult:
    """Read a ``result.json`` back into a `SubmissionResult`, refusing other schema majors
    and results whose fields have the wrong types (see `result_from_data`).

    The result comes back bounded (`grader.bounded`): a file edited by hand, or written by
    an older grader, passes the same text boundary as a fresh result before anything (a
    report, the console, a leaderboard) shows it."""
    return result_from_data(read_json(path), Path(path))


def result_from_data(data: Any, path: Path) -> SubmissionResult:
    """A `SubmissionResult` from JSON data, or a `ReportError` saying what is wrong with it."""
    if not isinstance(data, dict) or "schema" not in data:
        raise ReportError(f"{path}: not a grader result (no 'schema' key)")
    if str(data["schema"]).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ReportError(
            f"{path}: result schema {data['schema']} is not readable by this grader "
            f"(schema {SCHEMA_VERSION})"
        )
    try:
        result = SubmissionResult.from_dict(data)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ReportError(f"{path}: malformed result: missing or invalid field {exc}") from exc
    problem = shape_problem(result)
    if problem:
        raise ReportError(f"{path}: malformed result: {problem}")
    try:
        return bounded(result)
    except (TypeError, ValueError) as exc:  # e.g. line numbers that are not numbers
        raise ReportError(f"{path}: malformed result: {exc}") from exc


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def shape_problem(result: SubmissionResult) -> str:
    """What is wrong with the types of a result read from JSON (empty when nothing): the
    fields the summary ranks by and the pages show must be what the grader writes."""
    info = result.submission
    if not all(isinstance(getattr(info, f), str) for f in ("path", "name", "format", "sha256")):
        return "'submission' needs text path, name, format and sha256"
    if not isinstance(result.assignment, str):
        return "'assignment' is not text"
    status = getattr(result, "status", "graded")
    if status not in ("graded", "not_gradable"):
        return f"'status' must be graded or not_gradable, not {str(status)[:40]!r}"
    overall = result.overall
    if status == "not_gradable":
        if overall is not None:
            return "a not-gradable result has no 'overall' grade (null)"
    elif not _number(overall) or not (math.isnan(overall) or 0 <= overall <= 100):
        return f"'overall' must be a number from 0 to 100, not {str(result.overall)[:40]!r}"
    if not isinstance(result.tasks, dict) or not all(
        isinstance(t.status, str) and _number(t.score) for t in result.tasks.values()
    ):
        return "'tasks' must map task ids to tasks with a status and a score"
    if not isinstance(result.criteria, dict) or not all(
        _number(c.score) for c in result.criteria.values()
    ):
        return "'criteria' must map names to criteria with a numeric score"
    if not isinstance(result.environment, dict):
        return "'environment' is not an object"
    if not all(isinstance(e, str) for e in result.errors):
        return "'errors' must be a list of text"
    return ""
