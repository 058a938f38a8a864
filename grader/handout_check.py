"""`grader handout --check NAME`: the reference run through the handout's scaffolding, so an
interviewer learns which flaws their handout carries, intended or not.

A handout is scaffolding (classes, a model, a training loop, given as they are) around stubs
the candidate fills in (``raise NotImplementedError``). A flaw of the scaffolding fails every
candidate who keeps it, however right their own code. To find those flaws, the check

1. grafts the reference's implementation of every stub into the handout (`graft`): a stub
   function or method is replaced by the reference's definition of the same name (the
   assignment's ``reference.py`` first, then the modules of ``reference/`` its kinds use),
   with the methods and module-level helpers they need, and each ``TODO`` line the
   assignment's ``[fills]`` names by the line it gives; nothing else of the handout changes;
2. grades that program like a submission, in a sandboxed worker, through the whole pipeline
   (`grader.pipeline.grade_submission`): the grafted lines count as the candidate's, so a
   failure in the handout's own lines is labelled ``handout`` (`grader.authorship`);
3. reports (`HandoutReport`) the declared traps (``[[traps]]``) the handout shows (``kept``)
   or no longer shows, the failing checks no declared trap explains (the flaws an
   interviewer did not intend, or a reference that does not fit the scaffolding), and the
   tasks that could not be judged (a stub with no reference to graft, a ``TODO`` line).

Nothing of the reference runs in the grader's process: the program is text, run in a worker
like any submission. Its grading is a normal one (training check, timings), a minute or two.
"""

from __future__ import annotations

import ast
import builtins
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader import kinds
from grader.assignment import Assignment
from grader.config import GraderConfig
from grader.handout import handout_text
from grader.intake.parsers import parse_percent
from grader.intake.printed import parse_quietly
from grader.intake.statements import bound_names, first_line
from grader.result import SubmissionResult, TrapOutcome
from grader.trusted import ordered, reference_modules

PRELUDE = "# Grafted from the reference by `grader handout --check`: helpers the grafted code uses."


@dataclass(frozen=True)
class Graft:
    """The handout with the reference's code in place of its stubs."""

    source: str
    """The program, ``py:percent``."""
    grafted: tuple[str, ...]
    """The stubs replaced (``name`` or ``Class.method``)."""
    left: tuple[str, ...]
    """The stubs the reference has no definition for, left as the handout has them."""
    helpers: tuple[str, ...]
    """Module-level names of the reference added for the grafted code."""
    filled: tuple[str, ...] = ()
    """The handout's lines replaced by the assignment's ``[fills]``."""


@dataclass(frozen=True)
class HandoutReport:
    """What the handout's scaffolding does to a correct implementation."""

    assignment: str
    graft: Graft
    result: SubmissionResult
    """The grafted program's grading."""

    @property
    def traps_found(self) -> tuple[TrapOutcome, ...]:
        """Declared traps the handout shows."""
        return tuple(t for t in self.result.traps if t.status == "kept")

    @property
    def traps_missing(self) -> tuple[TrapOutcome, ...]:
        """Declared traps the handout does not show (fixed since, or their checks never ran)."""
        return tuple(t for t in self.result.traps if t.status != "kept")

    @property
    def unexplained(self) -> tuple[tuple[str, str, str], ...]:
        """(check, who, message) for each failing check no declared trap explains: ``handout``
        when its traceback lies in the handout's lines, ``reference`` when in the grafted
        code, ``unknown`` when it has none."""
        claimed = {name for t in self.result.traps for name in t.checks if t.status == "kept"}
        out = []
        for task in self.result.code_tasks.values():
            for check in task.checks:
                if check.status in ("fail", "error") and check.name not in claimed:
                    who = {"handout": "handout", "candidate": "reference", "changed": "reference"}
                    out.append(
                        (check.name, who.get(check.authorship or "", "unknown"), check.message)
                    )
        return tuple(out)

    @property
    def not_judged(self) -> tuple[str, ...]:
        """Tasks the grafted program could not be graded on (missing)."""
        return tuple(t.id for t in self.result.code_tasks.values() if t.status == "missing")

    @property
    def clean(self) -> bool:
        """Every declared trap shows and nothing else fails."""
        return not self.traps_missing and not self.unexplained


def check_handout(
    assignment: Assignment, config: GraderConfig, progress: Callable[[str], None] | None = None
) -> HandoutReport:
    """Graft the reference into the handout and grade it (see the module docstring)."""
    from grader.pipeline import grade_submission

    program = graft(assignment)
    with tempfile.TemporaryDirectory(prefix="handout-check-") as folder:
        path = Path(folder) / f"{assignment.id}_reference_in_handout.py"
        path.write_text(program.source, encoding="utf-8")
        result = grade_submission(
            path, assignment, config, progress=progress, name=f"{assignment.id}-handout"
        )
    return HandoutReport(assignment.id, program, result)


def reference_sources(assignment: Assignment) -> list[str]:
    """The reference's sources, most specific first: the assignment's ``reference.py``, then
    the modules of ``reference/`` its kinds declare."""
    names = {m for t in assignment.tasks for m in kinds.get(t.kind).reference_modules}
    sources = [assignment.reference_source()] if assignment.reference_file else []
    modules = reference_modules(ordered(names)) if names else {}
    return sources + [text for name, text in modules.items() if name != "reference"]


def graft(assignment: Assignment) -> Graft:
    """The handout's text with each stub replaced by the reference's definition."""
    text = handout_text(assignment)
    definitions, helpers, imports = _reference_index(reference_sources(assignment))
    lines = text.split("\n")
    replacements: dict[int, tuple[int, list[str]]] = {}  # first line index -> (last, new lines)
    grafted: list[str] = []
    left: list[str] = []
    handout_names: set[str] = set()
    used: set[str] = set()
    first_code: int | None = None
    filled: list[str] = []
    for cell in parse_percent(text):
        tree = parse_quietly(cell.source) if cell.kind == "code" else None
        if tree is None:
            continue
        first_code = cell.line_offset if first_code is None else first_code
        for stmt in tree.body:
            handout_names.update(bound_names(stmt))
        for name, node, indent, extra in _stubs(tree, definitions):
            source = definitions.get(name)
            if source is None:
                left.append(name)
                continue
            new = textwrap.indent(source + "".join(f"\n\n{m}" for m in extra), indent)
            start = cell.line_offset + first_line(node) - 1
            replacements[start] = (
                cell.line_offset + (node.end_lineno or node.lineno) - 1,
                new.split("\n"),
            )
            grafted.append(name)
            used |= _loaded_names(source) | set().union(*(_loaded_names(m) for m in extra))
    out: list[str] = []
    skip_to = -1
    for i, line in enumerate(lines):
        if i <= skip_to:
            continue
        if i in replacements:
            skip_to, new = replacements[i]
            out += new
            continue
        fill = assignment.fills.get(line.strip())
        if fill is not None:
            out.append(line[: len(line) - len(line.lstrip())] + fill)
            used |= _loaded_names(fill)
            filled.append(line.strip())
            continue
        out.append(line)
    needed = _closure(used - handout_names - set(dir(builtins)), helpers, handout_names)
    if needed and first_code is not None:
        prelude = ["# %%", PRELUDE, *imports, "", *(helpers[n] + "\n" for n in needed), ""]
        shift = sum(
            len(new) - (last - start + 1)
            for start, (last, new) in replacements.items()
            if start < first_code
        )
        at = _cell_end(out, first_code + shift)
        out[at:at] = prelude
    return Graft("\n".join(out), tuple(grafted), tuple(left), tuple(needed), tuple(filled))


def _reference_index(
    sources: list[str],
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(qualified name -> definition text, dedented; module-level name -> its statement's
    text; the import statements the reference needs, without its own package's)."""
    definitions: dict[str, str] = {}
    helpers: dict[str, str] = {}
    imports: list[str] = []
    for source in sources:
        tree = parse_quietly(source)
        if tree is None:
            continue
        for stmt in tree.body:
            text = ast.get_source_segment(source, stmt, padded=False) or ""
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                module = getattr(stmt, "module", None) or ""
                if module != "__future__" and not module.startswith("reference"):
                    imports.append(text) if text not in imports else None
                continue
            for name in bound_names(stmt):
                helpers.setdefault(name, _with_decorators(source, stmt))
            if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
                definitions.setdefault(stmt.name, _with_decorators(source, stmt))
            if isinstance(stmt, ast.ClassDef):
                for member in stmt.body:
                    if isinstance(member, ast.FunctionDef):
                        text = textwrap.dedent(_with_decorators(source, member))
                        definitions.setdefault(f"{stmt.name}.{member.name}", text)
    return definitions, helpers, imports


def _with_decorators(source: str, node: ast.stmt) -> str:
    lines = source.split("\n")[first_line(node) - 1 : node.end_lineno]
    return textwrap.dedent("\n".join(lines))


def _stubs(
    tree: ast.Module, definitions: dict[str, str]
) -> list[tuple[str, ast.stmt, str, list[str]]]:
    """(qualified name, node, indent, the reference class's extra methods) for each function
    or method of the cell whose body raises NotImplementedError."""
    found = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and _is_stub(stmt):
            found.append((stmt.name, stmt, "", []))
        if isinstance(stmt, ast.ClassDef):
            own = {m.name for m in stmt.body if isinstance(m, ast.FunctionDef)}
            extra = [
                text
                for name, text in definitions.items()
                if name.startswith(f"{stmt.name}.") and name.split(".", 1)[1] not in own
            ]
            methods = [m for m in stmt.body if isinstance(m, ast.FunctionDef) and _is_stub(m)]
            for i, method in enumerate(methods):
                indent = " " * method.col_offset
                found.append(
                    (f"{stmt.name}.{method.name}", method, indent, extra if i == 0 else [])
                )
    return found


def _is_stub(node: ast.FunctionDef) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Raise) and child.exc is not None:
            exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def _loaded_names(source: str) -> set[str]:
    tree = parse_quietly(source)
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _closure(wanted: set[str], helpers: dict[str, str], defined: set[str]) -> list[str]:
    """The reference's module-level names ``wanted`` needs, with theirs, in source order."""
    order = list(helpers)
    needed: set[str] = set()
    frontier = [n for n in wanted if n in helpers]
    while frontier:
        name = frontier.pop()
        if name in needed or name in defined:
            continue
        needed.add(name)
        frontier += [n for n in _loaded_names(helpers[name]) if n in helpers]
    return [n for n in order if n in needed]


def _cell_end(lines: list[str], start: int) -> int:
    """Index of the line where the cell that starts at ``start`` ends (the next marker)."""
    for i in range(start, len(lines)):
        if lines[i].startswith("# %%"):
            return i
    return len(lines)


def render(report: HandoutReport) -> str:
    """The report in plain text, for the terminal."""
    out = [f"handout of {report.assignment}: the reference grafted into its scaffolding"]
    out.append(f"  grafted: {', '.join(report.graft.grafted) or 'nothing'}")
    if report.graft.left:
        out.append(f"  left as handed out (no reference for them): {', '.join(report.graft.left)}")
    out.append(f"flaws the handout carries, as declared ({len(report.result.traps)}):")
    for trap in report.result.traps:
        seen = "found" if trap.status == "kept" else f"NOT FOUND ({trap.status})"
        checks = ", ".join(trap.checks) or "no check ran"
        out.append(f"  {seen:<10} {trap.id}: {trap.title} [{checks}]")
    unexplained = report.unexplained
    out.append(f"failures no declared flaw explains ({len(unexplained)}):")
    where = {
        "handout": "in the handout's own code",
        "reference": "in the grafted reference: it does not fit the scaffolding",
        "unknown": "cause not located (no traceback)",
    }
    for name, who, message in unexplained:
        out.append(f"  {name} ({where[who]}): {message.splitlines()[0][:240] if message else ''}")
    if report.not_judged:
        out.append(
            f"not judged (no symbol to grade: a stub with no reference, or a TODO line): {', '.join(report.not_judged)}"
        )
    out.append(
        "the handout carries exactly its declared flaws"
        if report.clean
        else "the handout differs from its declaration: see above"
    )
    return "\n".join(out)
