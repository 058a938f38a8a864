"""A candidate's hand-in as one unit: a file, a folder, or an archive of a folder.

Candidates hand in a notebook, or a folder (a notebook and the ``helpers.py`` it imports),
or that folder zipped. Each is **one candidate**, and is read into one `Submission`:

* **The main file** is what is graded as the submission: among the folder's notebooks and
  Python files, the one that defines the most of the assignment's tasks (by the task
  symbols and aliases, and the training task's model and loop names), notebooks before
  ``.py`` files on a tie, then the shallowest, then by name. ``--main NAME`` (a name or a
  glob; `grader.config.IntakeLimits.main`) or the assignment's own ``main_file`` rule chooses
  among the files it matches; the reason for the choice is in the submission's notes.
* **Helper modules** are the candidate's own ``.py`` files that the main file imports
  (``import helpers``, ``from src.layers import Block``), followed through their own imports
  (relative ones too). Each is extracted like the main file (definitions only, no top-level
  work) and loaded in the worker under its own module name before the main file, so the
  imports work there as they did on the candidate's machine. They are looked up beside the
  main file, then at the folder's root (for a notebook in ``notebooks/`` that adds ``..``
  to its path). A notebook named on its own takes the ``.py`` files it imports from beside
  it in the same way.
* **An archive** (`grader.intake.archive`) is unpacked safely into a temporary folder and
  read as a folder; a hostile or damaged archive is refused whole, with the reason.

Nothing here runs candidate code: imports are read from the text. A unit that cannot be
graded at all (a refused archive, a folder with no notebook or Python file) still becomes a
`Submission`, of format ``unreadable`` with the reason in its errors, so it ends as a result
that says why (``not_gradable``, see `grader.gradable`), never as a grader crash.

`discover` turns a batch folder into candidates: each direct child (file, folder, archive)
is one; what is not a candidate is returned with the reason, for the command line to print.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from grader.config import IntakeLimits
from grader.intake.archive import ArchiveRefused, archive_stem, is_archive, unpack
from grader.intake.extract import extract
from grader.intake.imports import installed
from grader.intake.load import DEFAULT_MAX_BYTES, load_submission, parse_bytes, safe_text
from grader.intake.submission import HelperModule, Submission

MAIN_SUFFIXES = (".ipynb", ".py")
"""Files that can be a folder's main file whatever they define."""
TEXT_SUFFIXES = (".md", ".markdown", ".txt")
"""Files that can be the main file only when they define a task (a Markdown answer, seed
000's ``.txt``): otherwise they are a README or a requirements list."""
SUBMISSION_SUFFIXES = MAIN_SUFFIXES + TEXT_SUFFIXES
NOT_SUBMISSIONS = frozenset(
    {"readme.md", "readme.txt", "readme.markdown", "requirements.txt", "license.txt", "license.md"}
)
"""Files next to submissions that are never one."""
SKIPPED_FOLDERS = frozenset(
    {
        ".git",
        ".ipynb_checkpoints",
        "__pycache__",
        "__MACOSX",
        ".venv",
        "venv",
        "node_modules",
        ".idea",
        ".vscode",
        ".mypy_cache",
        ".pytest_cache",
    }
)
"""Folders that are tooling, not the candidate's work (Jupyter's checkpoints are stale copies)."""
MAIN_MODULE = "submission"
"""The worker's name for the main file's module: no helper may take it."""
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.MULTILINE)
_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\(?([\w., \t]+)", re.MULTILINE)
_DEFINES = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)", re.MULTILINE)


# --- a batch folder: which children are candidates ----------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One candidate found in a batch folder."""

    path: Path
    refused: str = ""
    """Why it is refused before grading (a link out of the folder); empty when it is graded."""


@dataclass(frozen=True)
class Skipped:
    """A direct child of a batch folder that is not a candidate, and why."""

    path: Path
    reason: str


def discover(folder: Path) -> tuple[list[Entry], list[Skipped]]:
    """The candidates of a batch folder: each direct child that is a submission file, a
    folder or an archive; the rest with the reason it is not graded.

    A ``.py`` file that another candidate file of the folder imports (``helpers.py`` beside
    ``alice.ipynb``) is that file's helper module, not a candidate of its own. A symbolic
    link that leads out of ``folder`` is a candidate refused with the reason (it is listed
    with the results, not silently dropped); one that stays inside is graded as what it
    points to (once, if the target is also a child)."""
    root = os.path.realpath(folder)
    entries: list[Entry] = []
    skipped: list[Skipped] = []
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        name = child.name
        if name.startswith(".") or name in SKIPPED_FOLDERS or name in ("Thumbs.db",):
            skipped.append(Skipped(child, "hidden or tooling file, not a submission"))
            continue
        if child.is_symlink():
            target = os.path.realpath(child)
            if not _under(target, root):
                entries.append(Entry(child, refused=link_refusal(child, target, folder)))
                continue
            if not os.path.exists(target):
                skipped.append(Skipped(child, "a symbolic link to nothing"))
                continue
        if child.is_dir() or (child.is_file() and is_archive(child)):
            entries.append(Entry(child))
        elif child.is_file() and child.suffix.lower() in SUBMISSION_SUFFIXES:
            if name.lower() in NOT_SUBMISSIONS:
                skipped.append(Skipped(child, "a README or requirements file, not a submission"))
            else:
                entries.append(Entry(child))
        elif child.is_file():
            kind = child.suffix.lower() or "no extension"
            skipped.append(
                Skipped(
                    child,
                    f"not a submission ({kind}): the grader takes .ipynb, .py, .md and .txt "
                    "files, folders, and .zip or .tar.gz archives",
                )
            )
        else:
            skipped.append(Skipped(child, "neither a file nor a folder"))
    return _fold_helpers(entries, skipped)


def is_candidate_folder(folder: Path, limits: IntakeLimits | None = None) -> bool:
    """Whether a folder named on the command line is one candidate's work rather than a
    batch of candidates: some file in it imports one of its direct sub-folders as a package
    (``notebooks/main.ipynb`` doing ``from src.model import ...``). A folder of a notebook
    and the ``.py`` modules it imports needs no such rule: as a batch, the imported modules
    are folded into the notebook (`discover`)."""
    subfolders = {
        child.name
        for child in folder.iterdir()
        if child.is_dir() and not child.is_symlink() and child.name not in SKIPPED_FOLDERS
    }
    if not subfolders:
        return False
    for file, rel in _walk(folder, limits or IntakeLimits())[0]:
        if file.suffix.lower() not in MAIN_SUFFIXES:
            continue
        inside = rel.split("/")[0] if "/" in rel else ""
        tops = {name.split(".")[0] for name in _imported_modules(_code_text(file))}
        if (tops & subfolders) - {inside}:
            return True
    return False


def link_refusal(link: Path, target: str, folder: Path) -> str:
    """Why a symbolic link out of the batch folder is not graded."""
    return (
        f"refused: {link.name} is a symbolic link to {target}, outside {folder}; links are "
        "not followed out of the folder being graded (copy the file in if it is a submission)"
    )


def _fold_helpers(
    entries: list[Entry], skipped: list[Skipped]
) -> tuple[list[Entry], list[Skipped]]:
    """Take out of ``entries`` the ``.py`` files another file entry imports: helpers."""
    files = [e for e in entries if not e.refused and e.path.is_file() and not is_archive(e.path)]
    modules = {e.path.stem: e for e in files if e.path.suffix.lower() == ".py"}
    helper_of: dict[Path, str] = {}
    for entry in files:
        for name in _imported_modules(_code_text(entry.path)):
            top = name.split(".")[0]
            if top in modules and modules[top] is not entry:
                helper_of.setdefault(modules[top].path, entry.path.name)
    kept = [e for e in entries if e.path not in helper_of]
    skipped += [
        Skipped(path, f"a helper module imported by {importer}: graded with it, not on its own")
        for path, importer in helper_of.items()
    ]
    return kept, sorted(skipped, key=lambda s: s.path.name)


# --- one unit -------------------------------------------------------------------------------


def unit_name(path: Path) -> str:
    """The candidate's short name (output folder): a folder's name, an archive's name without
    ``.zip``/``.tar.gz``, a file's stem."""
    if path.is_dir():
        return safe_text(path.name)
    if is_archive(path):
        return safe_text(archive_stem(path.name))
    return safe_text(path.stem)


def load_unit(
    path: str | Path, assignment: Any = None, limits: IntakeLimits | None = None
) -> Submission:
    """Read a file, a folder or an archive into one `Submission` (see the module docstring).

    ``assignment`` (its task symbols) chooses a folder's main file; without it the first
    notebook is. Raises ``FileNotFoundError`` only when ``path`` does not exist."""
    path, limits = Path(path).absolute(), limits or IntakeLimits()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        return _folder_unit(path, path, assignment, limits, [f"a folder: {path.name}/"])
    if is_archive(path):
        return _archive_unit(path, assignment, limits)
    sub = load_submission(path)
    helpers, notes = _helpers(path, [path.parent], path.parent, limits)
    if not helpers:
        return replace(sub, notes=(*sub.notes, *notes))
    return replace(
        sub,
        sha256=unit_digest(path, limits),
        modules=tuple(helpers),
        notes=(*sub.notes, *notes),
    )


def unit_digest(path: Path, limits: IntakeLimits | None = None) -> str:
    """What identifies a unit's content, to tell whether a kept result still grades it: a
    file's bytes (and those of the helper modules it imports from beside it), an archive's
    bytes, a folder's files (the contents of its source files, the sizes of the rest)."""
    limits = limits or IntakeLimits()
    path = path.absolute()
    if path.is_dir():
        digest = hashlib.sha256()
        for file, relative in _walk(path, limits)[0]:
            digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
            if file.suffix.lower() in SUBMISSION_SUFFIXES:
                digest.update(hashlib.sha256(_read(file, limits)).digest())
            else:
                digest.update(str(file.stat().st_size).encode())
        return digest.hexdigest()
    data = _read_head(path, limits.max_archive_bytes if is_archive(path) else DEFAULT_MAX_BYTES)
    plain = hashlib.sha256(data).hexdigest()
    if is_archive(path):
        return plain
    helpers = _helper_files(path, [path.parent], path.parent, limits)[0]
    if not helpers:
        return plain
    digest = hashlib.sha256(data)
    for _, file in sorted(helpers.items()):
        digest.update(str(file.relative_to(path.parent)).encode("utf-8", "surrogateescape"))
        digest.update(hashlib.sha256(_read(file, limits)).digest())
    return digest.hexdigest()


def _archive_unit(path: Path, assignment: Any, limits: IntakeLimits) -> Submission:
    name = unit_name(path)
    with tempfile.TemporaryDirectory(prefix="grader-unpack-") as tmp:
        target = Path(tmp)
        try:
            unpacked = unpack(path, target, limits)
        except ArchiveRefused as exc:
            return refused(path, f"refused: {exc}", unit_digest(path, limits))
        notes = [f"an archive: {path.name}, {len(unpacked.files)} file(s) unpacked safely"]
        if unpacked.left_out:
            notes.append(f"archiver files left out: {', '.join(unpacked.left_out[:5])}")
        root = _single_folder(target)
        sub = _folder_unit(root, path, assignment, limits, notes)
    return replace(sub, name=name, sha256=unit_digest(path, limits))


def _single_folder(target: Path) -> Path:
    """An archive of one folder (``alice/...``) is read from inside that folder."""
    children = [c for c in target.iterdir()]
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return target


def _folder_unit(
    folder: Path, given: Path, assignment: Any, limits: IntakeLimits, notes: list[str]
) -> Submission:
    """A folder (or an unpacked archive, ``given`` being the archive) as one submission."""
    files, walk_notes = _walk(folder, limits)
    notes += walk_notes
    main, why, readings = _choose_main(files, assignment, limits)
    if main is None:
        seen = ", ".join(rel for _, rel in files[:8]) or "nothing"
        return refused(
            given,
            f"no notebook or Python file to grade in {given.name} (it holds: {seen})",
            unit_digest(given, limits),
        )
    main_file, main_rel = main
    sub = readings[main_rel]
    notes.append(f"main file: {main_rel} ({why})")
    others = [rel for _, rel in files if rel != main_rel and _is_source(rel)]
    helpers, helper_notes = _helpers(main_file, [main_file.parent, folder], folder, limits)
    notes += helper_notes
    loaded = {h.file for h in helpers}
    unused = [rel for rel in others if rel not in loaded]
    if unused:
        shown = ", ".join(unused[:10]) + (" ..." if len(unused) > 10 else "")
        notes.append(f"not graded (the main file does not import them): {shown}")
    return replace(
        sub,
        path=str(given),
        name=unit_name(given),
        sha256=unit_digest(given, limits),
        modules=tuple(helpers),
        notes=(*notes, *sub.notes),
    )


def refused(path: Path, reason: str, digest: str = "") -> Submission:
    """A unit that is not graded: an unreadable submission whose error says why."""
    size = path.stat().st_size if path.is_file() else 0
    return Submission(
        path=str(path),
        name=unit_name(path),
        format="unreadable",
        sha256=digest,
        size_bytes=size,
        errors=(reason,),
    )


# --- the main file ---------------------------------------------------------------------------


def task_names(assignment: Any) -> dict[str, frozenset[str]]:
    """Task id -> the names that implement it (symbols, aliases, and the names of its parts:
    a training task's ``train`` and ``evaluate``), read defensively from any
    assignment-like object."""
    names: dict[str, frozenset[str]] = {}
    for task in getattr(assignment, "tasks", ()) or ():
        found = {*getattr(task, "symbols", ()), *getattr(task, "aliases", ())}
        for part in (getattr(task, "parts", None) or {}).values():
            found |= set(part)
        names[task.id] = frozenset(found)
    return names


def _choose_main(
    files: list[tuple[Path, str]], assignment: Any, limits: IntakeLimits
) -> tuple[tuple[Path, str] | None, str, dict[str, Submission]]:
    """(main file and its relative path, why it was chosen, each candidate file read)."""
    wanted = task_names(assignment)
    readings: dict[str, Submission] = {}
    scored = []
    for file, rel in files:
        suffix = file.suffix.lower()
        if suffix not in SUBMISSION_SUFFIXES or file.name.lower() in NOT_SUBMISSIONS:
            continue
        sub = load_submission(file, max_bytes=min(limits.max_file_bytes, DEFAULT_MAX_BYTES))
        defined = set(_DEFINES.findall("\n".join(c.source for c in sub.code_cells)))
        tasks = sum(bool(names & defined) for names in wanted.values())
        if suffix in TEXT_SUFFIXES and not tasks:
            continue  # prose that defines nothing the test asks for
        readings[rel] = replace(sub, path=rel)
        scored.append(((-tasks, suffix != ".ipynb", rel.count("/"), rel), file, rel, tasks))
    if not scored:
        return None, "", readings
    pattern, source = (
        (limits.main, "--main")
        if limits.main
        else (getattr(assignment, "main_file", None), "the assignment's main_file")
    )
    chosen_by = unmatched = ""
    if pattern:
        matching = [s for s in scored if _matches(s[2], pattern)]
        if matching:
            scored, chosen_by = matching, f"chosen by {source} `{pattern}`"
        else:
            unmatched = f"{source} `{pattern}` matched no file, so: "
    scored.sort(key=lambda s: s[0])
    best = scored[0]
    why = chosen_by or unmatched + _reason(best[3])
    ties = [s[2] for s in scored[1:] if s[0][:2] == best[0][:2]]
    if ties:
        why += (
            f"; {', '.join(ties[:5])} could be it too: the shallowest, then the first by name, "
            "was taken (--main NAME chooses another)"
        )
    return (best[1], best[2]), why, readings


def _reason(tasks: int) -> str:
    if tasks:
        return f"it defines {tasks} of the assignment's tasks, more than any other file"
    return "no file defines a task of the assignment; notebooks are taken first"


def _matches(rel: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern)


def _is_source(rel: str) -> bool:
    lower = rel.lower()
    return lower.endswith(SUBMISSION_SUFFIXES) and lower.rsplit("/", 1)[-1] not in NOT_SUBMISSIONS


# --- helper modules --------------------------------------------------------------------------


def _helpers(
    main: Path, search: list[Path], root: Path, limits: IntakeLimits
) -> tuple[list[HelperModule], list[str]]:
    """The candidate's modules the main file imports (transitively), extracted for the
    worker, and notes on what was found and what could not be loaded."""
    files, notes = _helper_files(main, search, root, limits)
    helpers = []
    for name, file in sorted(files.items()):
        data = _read(file, limits)
        rel = _relative(file, root)
        text = parse_bytes(data, path=rel, name=name, suffix=".py")
        extracted = extract(text)
        definitions = {
            d.name: (d.kind, d.stub)
            for d in extracted.definitions.values()
            if d.kind in ("function", "class")
        }
        helpers.append(HelperModule(name, rel, extracted.source, definitions))
        shown = ", ".join(sorted(definitions)[:8]) or "no function or class"
        problems = f"; {extracted.syntax_errors[0].message}" if extracted.syntax_errors else ""
        notes.append(
            f"helper module `{name}` ({rel}) loaded beside the main file: {shown}{problems}"
        )
    return helpers, notes


def _helper_files(
    main: Path, search: list[Path], root: Path, limits: IntakeLimits
) -> tuple[dict[str, Path], list[str]]:
    """Module name -> file, for every candidate module the main file reaches by importing."""
    found: dict[str, Path] = {}
    notes: list[str] = []
    todo = _imported_modules(_code_text(main))
    looked: set[str] = set()
    while todo and len(found) < limits.max_files:
        name = todo.pop(0)
        if name in looked:
            continue
        looked.add(name)
        hit = _module_file(name, search, root)
        if hit is None or hit == main:
            continue
        taken = _taken(name.split(".")[0])
        if taken:
            if name.split(".")[0] == name:
                notes.append(f"{_relative(hit, root)} is not loaded as a module: {taken}")
            continue
        found[name] = hit
        # A package's parents are packages: their __init__.py runs first when present.
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        package = name if hit.name == "__init__.py" else name.rpartition(".")[0]
        todo += _imported_modules(_code_text(hit), package=package)
    return found, notes


def _module_file(name: str, search: list[Path], root: Path) -> Path | None:
    """The candidate's file for module ``name`` (``a.b`` -> ``a/b.py`` or
    ``a/b/__init__.py``), looked up in ``search`` in order, never through a link."""
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for base in search:
        for file in (
            base.joinpath(*parts).with_suffix(".py"),
            base.joinpath(*parts, "__init__.py"),
        ):
            if file.is_file() and not _through_link(file, base) and _under(str(file), str(root)):
                return file
    return None


def _through_link(file: Path, base: Path) -> bool:
    """Whether any part of ``file`` below ``base`` is a symbolic link (never followed)."""
    current = file
    while current != base and current != current.parent:
        if current.is_symlink():
            return True
        current = current.parent
    return False


def _taken(top: str) -> str:
    """Why a candidate module named ``top`` cannot be loaded under that name, or ''."""
    if top == MAIN_MODULE:
        return "its name is the one the grader gives the main file; rename it"
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return f"`{top}` is a module of Python's standard library; rename the file"
    if installed(top):
        return f"`{top}` is an installed package of the grader's environment; rename the file"
    return ""


def _imported_modules(text: str, package: str = "") -> list[str]:
    """Dotted names of the modules ``text`` imports (read from the text, syntax errors and
    notebook magics notwithstanding); ``from pkg import name`` yields ``pkg`` and
    ``pkg.name`` (which may be a submodule); relative imports resolve against ``package``."""
    found: list[str] = []
    for match in _IMPORT.finditer(text):
        for part in match.group(1).split(","):
            name = part.strip().split()[0] if part.strip() else ""
            found.append(name)
    for match in _FROM.finditer(text):
        dots, module, names = match.groups()
        base = module
        if dots:
            anchor = package.split(".") if package else []
            up = len(dots) - 1
            if up > len(anchor) or not package:
                continue
            anchor = anchor[: len(anchor) - up] if up else anchor
            base = ".".join([*anchor, module] if module else anchor)
        if not base:
            continue
        found.append(base)
        for part in names.split(","):
            word = part.strip().split()[0] if part.strip() else ""
            if word.isidentifier():
                found.append(f"{base}.{word}")
    return list(dict.fromkeys(n for n in found if n))


def _code_text(path: Path) -> str:
    """The code of a file, whatever its format (a notebook's code cells), read without
    running anything; empty when it cannot be read."""
    try:
        sub = load_submission(path)
    except OSError:
        return ""
    return "\n".join(c.source for c in sub.code_cells)


# --- walking a folder ------------------------------------------------------------------------


def _walk(folder: Path, limits: IntakeLimits) -> tuple[list[tuple[Path, str]], list[str]]:
    """The folder's regular files (path, relative POSIX path), tooling folders and links
    left out, within the limits; notes say what was left out."""
    files: list[tuple[Path, str]] = []
    links: list[str] = []
    entries = 0
    for current, dirs, names in os.walk(folder):
        here = Path(current)
        depth = len(here.relative_to(folder).parts)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_FOLDERS
            and not d.startswith(".")
            and depth < limits.max_depth
            and not _note_link(here / d, folder, links)
        )
        for name in sorted(names):
            entries += 1
            if entries > limits.max_files:
                note = f"more than {limits.max_files} files: the rest were not looked at"
                return files, [note, *_link_notes(links)]
            file = here / name
            if name.startswith(".") or _note_link(file, folder, links) or not file.is_file():
                continue
            files.append((file, file.relative_to(folder).as_posix()))
    return files, _link_notes(links)


def _note_link(path: Path, folder: Path, links: list[str]) -> bool:
    if path.is_symlink():
        links.append(path.relative_to(folder).as_posix())
        return True
    return False


def _link_notes(links: list[str]) -> list[str]:
    if not links:
        return []
    return [f"symbolic links not followed: {', '.join(links[:10])}"]


# --- small helpers ---------------------------------------------------------------------------


def _read(file: Path, limits: IntakeLimits) -> bytes:
    return _read_head(file, min(limits.max_file_bytes, DEFAULT_MAX_BYTES))


def _read_head(file: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of ``file`` (never follows a link for the final component)."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit)


def _relative(file: Path, root: Path) -> str:
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return file.name


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def names_of(entries: Iterable[Entry]) -> list[str]:
    """The output name of each entry, in order (before de-duplication)."""
    return [unit_name(e.path) for e in entries]
