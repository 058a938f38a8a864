"""What intake reads a submission into: a file's cells, whatever its format.

Every format the harness accepts (a notebook, a Python file, a jupytext ``py:percent``
file, a Markdown answer with fenced code, a notebook exported as text) becomes the same
thing: an ordered tuple of `Cell`s, code or prose, each with the output it showed and
where its lines sit in the file. The later stages (extract, resolve, the notebook facts)
only ever look at cells, never at the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from grader.result import SubmissionInfo

CellKind = Literal["code", "markdown"]
Format = Literal["ipynb", "py", "py-percent", "markdown", "notebook-text", "unreadable"]


def has_code(text: str) -> bool:
    """Whether ``text`` holds more than blank lines and comments."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.split("\n"))


@dataclass(frozen=True)
class Cell:
    """One cell of a submission, in file order."""

    index: int
    """0-based position of the cell in the file (every format is numbered the same way)."""
    kind: CellKind
    """``code`` or ``markdown`` (prose, including raw notebook cells)."""
    source: str
    """The cell's text. For markdown cells of a ``py:percent`` file the ``# `` prefixes are
    removed."""
    execution_count: int | None = None
    """The ``In [N]`` number; ``None`` when the cell never ran or the format has none."""
    outputs: str = ""
    """Everything the cell showed when it last ran, as text (streams, reprs, errors)."""
    line_offset: int = 0
    """Lines of the file before the cell's first source line, so that file line =
    ``line_offset + line in cell``. 0 for ``.ipynb``, whose lines are JSON."""
    stdout: str | None = None
    """The part of ``outputs`` that the cell printed, where the format tells it apart
    (``.ipynb`` streams); ``None`` where it cannot (a text export mixes prints and reprs)."""

    @property
    def has_code(self) -> bool:
        return self.kind == "code" and has_code(self.source)


@dataclass(frozen=True)
class HelperModule:
    """A module of the candidate's own that the main file imports (``helpers.py`` beside a
    notebook), loaded into the worker under its own name so ``import helpers`` works there."""

    name: str
    """Dotted module name: ``helpers``, ``src.layers``."""
    file: str
    """Where it is, relative to the submission's folder (``src/layers.py``)."""
    source: str
    """What the worker loads for it: its definitions, extracted like the main file's (its
    top-level work is left out, as the main file's is)."""
    definitions: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """Function or class name -> (kind, still a placeholder): what ``from helpers import
    name`` in the main file brings in, for resolving tasks."""


@dataclass(frozen=True)
class Submission:
    """A submission file read into cells, with what went wrong while reading it."""

    path: str
    """Path as given."""
    name: str
    """Short name safe for an output folder (letters, digits, ``.``, ``_``, ``-``)."""
    format: Format
    """Detected format; ``unreadable`` when the file could not be read at all."""
    sha256: str
    """Hash of the file's bytes (empty when the file was refused unread)."""
    size_bytes: int
    """Size of the file on disk."""
    cells: tuple[Cell, ...] = ()
    """The cells, in file order."""
    errors: tuple[str, ...] = ()
    """Problems that lost content: refused, binary, invalid JSON, ... Empty when all is well."""
    notes: tuple[str, ...] = ()
    """How the file was read: encoding, why this format was chosen, what was recovered."""
    encoding: str = "utf-8"
    """Text encoding used to decode the file."""
    modules: tuple[HelperModule, ...] = ()
    """The candidate's own modules the main file imports (a folder or archive submission,
    or ``.py`` files beside a notebook); loaded in the worker before the main file."""

    @property
    def code_cells(self) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if cell.kind == "code")

    @property
    def has_execution_counts(self) -> bool:
        """Whether the format records which cells ran (a notebook, a notebook export)."""
        return self.format in ("ipynb", "notebook-text")

    def info(self) -> SubmissionInfo:
        """The part of the submission that ``result.json`` records."""
        return SubmissionInfo(
            path=self.path,
            name=self.name,
            format=self.format,
            sha256=self.sha256,
            size_bytes=self.size_bytes,
        )
