"""Reading and writing report files: atomically, so a reader never sees half a file.

A batch may be interrupted (a timeout, Ctrl-C) while a report is being written; the CI job or
the interviewer then opens whatever is on disk. Writing to a temporary file in the same
folder and renaming it over the target (``os.replace`` is atomic on one file system) means
the file is either the old one or the complete new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from grader.result import SCHEMA_VERSION, SubmissionResult


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
    """Strict JSON (no NaN literals: `to_jsonable` already spelled them as strings)."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_result(result: SubmissionResult, path: Path) -> Path:
    """Write ``result.json``."""
    return atomic_write_text(path, dump_json(result.to_dict()))


def load_result(path: Path | str) -> SubmissionResult:
    """Read a ``result.json`` back into a `SubmissionResult`, refusing other schema majors."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: cannot read a result: {exc}") from exc
    if not isinstance(data, dict) or "schema" not in data:
        raise ReportError(f"{path}: not a grader result (no 'schema' key)")
    if str(data["schema"]).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ReportError(
            f"{path}: result schema {data['schema']} is not readable by this grader "
            f"(schema {SCHEMA_VERSION})"
        )
    try:
        return SubmissionResult.from_dict(data)
    except (KeyError, TypeError) as exc:
        raise ReportError(f"{path}: malformed result: missing or invalid field {exc}") from exc
