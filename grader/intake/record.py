"""What intake did, as plain JSON data: the ``intake`` section of ``result.json``.

The report shows the reader what the grader saw and left out (a skipped training loop, a
cell with a syntax error, a symbol found under another name), so that a grade can be
checked against the submission by hand.
"""

from __future__ import annotations

from typing import Any

from grader.intake.extract import Extracted
from grader.intake.resolve import Resolution
from grader.intake.submission import Submission
from grader.result import to_jsonable


def intake_record(
    sub: Submission, extracted: Extracted, resolutions: dict[str, Resolution]
) -> dict[str, Any]:
    """The intake section for ``SubmissionResult.intake`` (JSON-ready)."""
    callables = {
        name: {"kind": d.kind, "lines": [d.start, d.end], "cell": d.cell, "stub": d.stub}
        for name, d in extracted.definitions.items()
        if d.kind in ("function", "class")
    }
    return {
        "format": sub.format,
        "encoding": sub.encoding,
        "notes": list(sub.notes),
        "errors": list(sub.errors),
        "cells": {
            "code": len(sub.code_cells),
            "markdown": len(sub.cells) - len(sub.code_cells),
        },
        "definitions": callables,
        "skipped": to_jsonable(extracted.skipped),
        "syntax_errors": to_jsonable(extracted.syntax_errors),
        "redefinitions": to_jsonable(extracted.redefinitions),
        "load_risks": list(extracted.load_risks),
        "facts": to_jsonable(extracted.facts),
        "resolutions": to_jsonable(resolutions),
    }
