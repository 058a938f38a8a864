"""Assemble the program the worker loads from a submission's cells, and say what was left out.

The program is the submission's code cells in file order (the order "Restart & Run All"
would use, whatever order the candidate ran them in) with only the statements that define
things kept (see `grader.intake.statements` for the rules). Along the way:

* **Redefinitions.** A notebook often defines a name twice (a first try, then a fix);
  the later definition is the one that counts, so the earlier one is dropped, unless
  something between the two uses the name while being defined (a base class, a decorator,
  a default value, a kept constant): then both stay, as they would run in the notebook.
* **Syntax errors.** A cell that does not parse is left out whole and reported with its
  line and message, and with the names it seems to define, so a missing task can say why.
  IPython magics and shell lines (``%matplotlib``, ``!pip install``) are not syntax
  errors: they are commented out and reported as skipped, as are their assignment forms
  (``files = !ls``, ``t = %timeit -o f()``) and help lines (``f?``); so are cell magics
  whose body is not Python (``%%bash``), whole.
* **Provenance.** Lines are mapped back to (cell, line in cell), and the candidate's own
  lines are told apart from the handout's (`grader.intake.provenance`).
* **Masks built inline.** Every ``tril``/``triu`` call, kept or not, is recorded with the
  function it is in, so that resolution can point at a causal mask with no function of
  its own.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field

from grader.intake.definitions import Definition, is_stub, kind_of, missing_globals
from grader.intake.facts import notebook_facts
from grader.intake.imports import missing_packages, with_helper_definitions
from grader.intake.masks import MaskSite, mask_sites
from grader.intake.printed import parse_quietly
from grader.intake.provenance import Span, candidate_lines, handout_index
from grader.intake.statements import (
    DEFINITION_NODES,
    Scope,
    bound_names,
    classify,
    first_line,
    names_read_when_run,
)
from grader.intake.submission import Cell, Submission
from grader.result import Finding

_DEFINES = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)
_MAGIC = re.compile(r"^(\s*)([!%].*)$")
# `files = !ls`, `result = %timeit -o f()`: IPython's assignment forms of the above.
_ASSIGNED_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[!%].*)$")
# `f?`, `?f`, `torch.nn.Linear??`: IPython's help.
_HELP = re.compile(r"^(\s*)(\?{1,2}[A-Za-z_][\w.]*|[A-Za-z_][\w.]*\?{1,2})\s*$")
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")


@dataclass(frozen=True)
class Skipped:
    """A top-level statement (or line) left out of the program."""

    cell: int
    line: int
    """1-based line in the cell."""
    snippet: str
    """Its first line, shortened."""
    reason: str
    """Why it was left out, with what it would have done."""
    effects: tuple[str, ...] = ()
    """Tags (``loop``, ``download``, ``file-write``, ``training``, ...), see `Verdict`."""


@dataclass(frozen=True)
class CellSyntaxError:
    """A code cell that does not parse, left out whole."""

    cell: int
    line: int | None
    """1-based line in the cell, when known."""
    message: str
    names: tuple[str, ...] = ()
    """Functions and classes the cell appears to define, lost with it."""


@dataclass(frozen=True)
class Redefinition:
    """A name defined more than once at top level."""

    name: str
    first_cell: int
    first_line: int
    cell: int
    line: int
    """Where the later definition is (the one that counts)."""
    kept_both: bool
    """Whether the earlier one was kept too, because something between uses it."""


@dataclass(frozen=True)
class Extracted:
    """The program the worker loads, and everything intake learned on the way."""

    source: str
    line_map: dict[int, tuple[int, int]]
    """Extracted line -> (cell index, 1-based line in the cell)."""
    definitions: dict[str, Definition]
    skipped: tuple[Skipped, ...] = ()
    syntax_errors: tuple[CellSyntaxError, ...] = ()
    candidate_lines: frozenset[int] = frozenset()
    """Lines of ``source`` the candidate wrote (not the handout's)."""
    markdown: tuple[tuple[int, str], ...] = ()
    """(cell index, text) of the prose cells: where written answers are."""
    facts: tuple[Finding, ...] = ()
    """Notebook facts (`grader.intake.facts`)."""
    redefinitions: tuple[Redefinition, ...] = ()
    mask_sites: tuple[MaskSite, ...] = ()
    errors: tuple[str, ...] = ()
    """The submission's own reading errors, carried along."""
    load_risks: tuple[str, ...] = ()
    """Definitions that need skipped names while being defined: the program will not load."""


@dataclass
class _Chunk:
    """A kept statement with the lines it takes in its cell."""

    cell: int
    stmt: ast.stmt
    first: int
    last: int
    """1-based lines in the cell, attached comments above included."""
    lines: list[str]
    names: tuple[str, ...]
    dropped: bool = False
    """Replaced by a later definition of the same name."""


def extract(sub: Submission, handout_source: str = "") -> Extracted:
    """Assemble the worker's program from ``sub`` (see the module docstring); the handout
    (``py:percent`` text, may be empty) decides which lines are the candidate's."""
    selection = _select(sub)
    redefinitions = _drop_redefinitions(selection.chunks)
    kept = [c for c in selection.chunks if not c.dropped]
    source, line_map, spans = _assemble(kept)
    definitions = _definitions(kept, spans, source)
    # `from helpers import attention`: the candidate's own function, defined in their module.
    definitions = with_helper_definitions(definitions, [c.stmt for c in kept], sub.modules)
    provenance = [Span(s, e, _definition_name(c.stmt)) for c, (s, e) in zip(kept, spans)]
    first_lines, names = _cell_anchors(kept, spans, definitions)
    located = {where: line for line, where in line_map.items()}
    return Extracted(
        source=source,
        line_map=line_map,
        definitions=definitions,
        skipped=tuple(selection.skipped),
        syntax_errors=tuple(selection.errors),
        candidate_lines=candidate_lines(source, provenance, handout_index(handout_source)),
        markdown=tuple((c.index, c.source) for c in sub.cells if c.kind == "markdown"),
        facts=notebook_facts(sub, first_lines, names),
        redefinitions=tuple(redefinitions),
        mask_sites=tuple(mask_sites(selection.trees, located)),
        errors=sub.errors,
        load_risks=(*selection.load_risks, *missing_packages(source, sub.modules)),
    )


@dataclass
class _Selection:
    """The statements kept and skipped, cell by cell, in file order."""

    chunks: list[_Chunk] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[CellSyntaxError] = field(default_factory=list)
    trees: dict[int, ast.Module] = field(default_factory=dict)
    """Parsed cells by index, kept statements or not (for the mask sites)."""
    load_risks: list[str] = field(default_factory=list)
    scope: Scope = field(default_factory=Scope)
    imports: dict[str, int] = field(default_factory=dict)
    """An import statement (dumped) -> the cell it first appeared in."""

    def add_cell(self, cell: Cell) -> None:
        text, magics = _comment_out_magics(cell)
        self.skipped += magics
        tree = _parse(cell, text) if text is not None else None
        if isinstance(tree, CellSyntaxError):
            self.errors.append(tree)
        if not isinstance(tree, ast.Module) or text is None:
            return
        self.trees[cell.index] = tree
        lines = text.split("\n")
        previous_end = 0
        for stmt in tree.body:
            self.add_statement(cell.index, stmt, lines, previous_end)
            previous_end = stmt.end_lineno or stmt.lineno

    def add_statement(self, cell: int, stmt: ast.stmt, lines: list[str], previous_end: int) -> None:
        first = first_line(stmt)
        snippet = lines[first - 1].strip()[:100]
        is_import = isinstance(stmt, (ast.Import, ast.ImportFrom))
        if is_import and ast.dump(stmt) in self.imports:
            why = f"imported already in cell {self.imports[ast.dump(stmt)]}"
            self.skipped.append(Skipped(cell, first, snippet, why))
            return
        verdict = classify(stmt, self.scope)
        if not verdict.keep:
            self.skipped.append(Skipped(cell, first, snippet, verdict.reason, verdict.effects))
            return
        risk = _load_risk(stmt, self.scope, cell)
        if risk:
            self.load_risks.append(risk)
        self.scope.bind(stmt)
        if is_import:
            self.imports[ast.dump(stmt)] = cell
        start = _attached_comments(lines, first, previous_end)
        end = stmt.end_lineno or first
        self.chunks.append(_Chunk(cell, stmt, start, end, lines, bound_names(stmt)))


def _select(sub: Submission) -> _Selection:
    """Go through the code cells in file order, keeping what defines and skipping the rest."""
    selection = _Selection()
    for cell in sub.code_cells:
        selection.add_cell(cell)
    return selection


def _load_risk(stmt: ast.stmt, scope: Scope, cell: int) -> str | None:
    """A warning when a kept definition needs, while being defined, a name that only
    skipped work binds (``def evaluate(model, data=val_data)``): loading the program
    would fail on it."""
    if not isinstance(stmt, DEFINITION_NODES):
        return None
    needed = sorted(names_read_when_run(stmt) - scope.known - {stmt.name})
    if not needed:
        return None
    listed = ", ".join(f"`{n}`" for n in needed)
    return (
        f"`{stmt.name}` (cell {cell}, line {first_line(stmt)}) uses {listed} while being defined "
        "(a default value, decorator, annotation or base class), and nothing kept before it "
        "defines that: loading the program will fail with a NameError"
    )


def _cell_anchors(
    kept: list[_Chunk], spans: list[tuple[int, int]], definitions: dict[str, Definition]
) -> tuple[dict[int, int], dict[int, tuple[str, ...]]]:
    """(cell -> its first extracted line, cell -> the functions and classes it defines),
    to anchor the notebook facts."""
    first_lines: dict[int, int] = {}
    for chunk, (start, _) in zip(kept, spans):
        first_lines.setdefault(chunk.cell, start)
    names: dict[int, list[str]] = defaultdict(list)
    for d in definitions.values():
        if d.kind in ("function", "class"):
            names[d.cell].append(d.name)
    return first_lines, {cell: tuple(found) for cell, found in names.items()}


# --- reading cells ------------------------------------------------------------------------------


def _comment_out_magics(cell: Cell) -> tuple[str | None, list[Skipped]]:
    """The cell's text with IPython magics and shell lines commented out (line numbers
    unchanged), or ``None`` for a cell magic whose body is not Python (``%%bash``)."""
    lines = cell.source.split("\n")
    head = lines[0].strip() if lines else ""
    if head.startswith("%%"):
        reason = f"IPython cell magic {head.split()[0]}"
        skip = Skipped(cell.index, 1, head[:100], reason, ("magic",))
        if not head.startswith(_PYTHON_CELL_MAGICS):
            return None, [skip]
        lines[0] = "# " + lines[0]
        return "\n".join(lines), [skip]
    skipped = []
    for n, line in enumerate(lines):
        match = _MAGIC.match(line) or _ASSIGNED_MAGIC.match(line) or _HELP.match(line)
        if match and parse_quietly(line.strip()) is None:
            indent, command = match.groups()
            # An indented magic keeps its block non-empty with `pass`.
            lines[n] = f"{indent}pass  # {command}" if indent else f"# {command}"
            reason = "IPython magic or shell command"
            skipped.append(Skipped(cell.index, n + 1, command[:100], reason, ("magic",)))
    return "\n".join(lines), skipped


def _parse(cell: Cell, text: str) -> ast.Module | CellSyntaxError:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        message, line = exc.msg, exc.lineno
    except (ValueError, RecursionError, MemoryError) as exc:
        message, line = f"cannot be parsed: {exc or type(exc).__name__}", None
    return CellSyntaxError(cell.index, line, message, tuple(_DEFINES.findall(text)))


def _attached_comments(lines: list[str], first: int, previous_end: int) -> int:
    """First line of the comment block directly above line ``first`` (no blank line
    between), not reaching into the previous statement."""
    start = first
    while start - 1 > previous_end and lines[start - 2].lstrip().startswith("#"):
        start -= 1
    return start


# --- redefinitions --------------------------------------------------------------------------------


def _drop_redefinitions(chunks: list[_Chunk]) -> list[Redefinition]:
    """Mark each definition that a later one replaces (see the module docstring).

    Indexed by name, so that a long notebook costs ``n log n``, not ``n**2``: for each
    name, the chunks that bind it and the chunks that read it while running."""
    binders: dict[str, list[int]] = defaultdict(list)
    readers: dict[str, list[int]] = defaultdict(list)
    for i, chunk in enumerate(chunks):
        for name in chunk.names:
            binders[name].append(i)
        for name in names_read_when_run(chunk.stmt):
            readers[name].append(i)
    found = []
    for i, chunk in enumerate(chunks):
        if isinstance(chunk.stmt, (ast.Import, ast.ImportFrom)) or not chunk.names:
            continue
        later = _next_binder(binders[chunk.names[0]], i)
        if later is None or not set(chunk.names) <= set(chunks[later].names):
            continue
        # `later + 1`: the redefinition itself may read the old one as it runs
        # (``class Model(Model): ...`` subclasses the definition it replaces).
        used = any(_any_between(readers[name], i, later + 1) for name in chunk.names)
        if not used:
            chunk.dropped = True
        for name in chunk.names:
            where = chunks[later]
            found.append(Redefinition(name, chunk.cell, chunk.first, where.cell, where.first, used))
    return found


def _next_binder(indices: list[int], i: int) -> int | None:
    """The first index in the sorted ``indices`` after ``i``."""
    k = bisect.bisect_right(indices, i)
    return indices[k] if k < len(indices) else None


def _any_between(indices: list[int], low: int, high: int) -> bool:
    """Whether the sorted ``indices`` hold one strictly between ``low`` and ``high``."""
    k = bisect.bisect_right(indices, low)
    return k < len(indices) and indices[k] < high


# --- the assembled program -------------------------------------------------------------------------


def _assemble(kept: list[_Chunk]) -> tuple[str, dict[int, tuple[int, int]], list[tuple[int, int]]]:
    """(source, line map, (start, end) of each chunk). Chunks from consecutive lines of a
    cell stay together; others are separated by one blank line, two around definitions
    (PEP 8), so that the assembly adds no style problems of its own."""
    out: list[str] = []
    line_map: dict[int, tuple[int, int]] = {}
    spans = []
    previous: _Chunk | None = None
    for chunk in sorted(kept, key=lambda c: not _is_future_import(c.stmt)):
        if previous is not None:
            adjacent = previous.cell == chunk.cell and chunk.first == previous.last + 1
            definition = any(isinstance(c.stmt, DEFINITION_NODES) for c in (previous, chunk))
            out += [""] * (0 if adjacent and not definition else 2 if definition else 1)
        start = len(out) + 1
        for n in range(chunk.first, chunk.last + 1):
            out.append(chunk.lines[n - 1])
            line_map[len(out)] = (chunk.cell, n)
        spans.append((start, len(out)))
        previous = chunk
    return "\n".join(out) + "\n" if out else "", line_map, spans


def _is_future_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


def _definitions(
    kept: list[_Chunk], spans: list[tuple[int, int]], source: str
) -> dict[str, Definition]:
    missing = missing_globals(source, {name for chunk in kept for name in chunk.names})
    found: dict[str, Definition] = {}
    for chunk, (start, end) in zip(kept, spans):
        stmt = chunk.stmt
        for name in chunk.names:
            found[name] = Definition(
                name=name,
                kind=kind_of(stmt),
                start=start,
                end=end,
                cell=chunk.cell,
                cell_line=first_line(stmt),
                stub=is_stub(stmt),
                missing_globals=missing.get(name, ()),
            )
    return found


def _definition_name(stmt: ast.stmt) -> str | None:
    return stmt.name if isinstance(stmt, DEFINITION_NODES) else None
