"""Intake: read a submission, assemble the program the worker runs, find each task's symbol.

Nothing here executes candidate code: every stage parses (``json``, ``ast``, text).

    sub = load_unit(path, assignment, limits)            # a file, folder or archive (units.py)
    sub = load_submission(path)                          # one file, any accepted format -> cells
    extracted = extract(sub, assignment.handout_source())  # cells -> program + provenance
    resolutions = resolve(extracted, assignment, overrides)  # task id -> Resolution
    record = intake_record(sub, extracted, resolutions)      # -> result.json's "intake"
"""

from grader.intake.definitions import Definition
from grader.intake.extract import CellSyntaxError, Extracted, Redefinition, Skipped, extract
from grader.intake.facts import notebook_facts
from grader.intake.load import DEFAULT_MAX_BYTES, load_submission, parse_text
from grader.intake.masks import MaskSite
from grader.intake.record import intake_record
from grader.intake.resolve import Resolution, resolve
from grader.intake.submission import Cell, Submission

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Cell",
    "CellSyntaxError",
    "Definition",
    "Extracted",
    "MaskSite",
    "Redefinition",
    "Resolution",
    "Skipped",
    "Submission",
    "extract",
    "intake_record",
    "load_submission",
    "notebook_facts",
    "parse_text",
    "resolve",
]
