"""Where a path really is: nothing the candidate supplies may lead the grader elsewhere.

A submission folder (a repository checked out in CI, an unpacked archive) is the candidate's:
a symlink in it can point anywhere the grader can read (a credentials file, the harness's
own ``reference/answers/``), and the grader would grade it and quote it in the reports. An
assignment folder inside it would let the candidate choose their own weights. So paths are
judged by where they resolve (every symlink followed), against the folder they were given
in.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path


def inside(path: Path | str, root: Path | str) -> bool:
    """Whether ``path``, every symlink resolved, is ``root`` or lies under it (resolved too)."""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def given_in(pattern: str) -> Path:
    """The folder a command-line path was given in: a folder itself, the part of a glob
    before its first wildcard, or a file's folder (its parent as written)."""
    path = Path(pattern)
    if not glob.has_magic(pattern):
        return path if path.is_dir() else path.parent
    parts = []
    for part in path.parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def escape_reason(match: Path, root: Path) -> str:
    """Why ``match`` is refused: it resolves outside ``root`` (empty when it does not)."""
    if inside(match, root):
        return ""
    return (
        f"{match} resolves to {os.path.realpath(match)}, outside the folder it was given in "
        f"({root}): a symbolic link out of the submission is never followed"
    )
