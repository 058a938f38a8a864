"""The reference side, paid once: values that depend only on the assignment, the settings and
the grader's code, kept on disk and reused by every submission that needs them.

Grading a cohort repeats work that no candidate influences: the reference model's baseline
training run, the position-blind baseline of the positional test, the corpus and its
vocabulary. `remember` computes such a value once and keeps it in a file named by a digest
of everything it depends on:

- ``what`` it is and its ``inputs`` (the corpus's content, the task's options, every setting
  of `GraderConfig` but the intake's), as JSON;
- the grader's code digest (`grader.batch.code_digest`: the sources of ``grader/`` and
  ``reference/``), so a change to any check, loop or reference model makes a new key and the
  old file is simply never read again: the cache invalidates itself.

A batch computes each value once: the first grading process that needs it takes an exclusive
lock on the value's lock file and computes it, the others wait on that lock and then read
the file (`remember`). Values are plain JSON (floats round-trip exactly), and token streams
NumPy arrays read with ``allow_pickle=False``: nothing is unpickled.

**Where.** ``$GRADER_CACHE_DIR`` when set (``off`` turns the cache off), else
``$XDG_CACHE_HOME/interview-grader`` (``~/.cache/interview-grader``). Outside the project and
the output folder on purpose: a cohort graded in several runs, into several ``--out``
folders, still pays the reference side once. Candidate code never sees it: under bubblewrap
the worker sees nothing of the host; in the fallback, a worker of its own uid cannot open a
folder of mode 0700. Where a fallback worker would share the grader's uid (and could write
a poisoned baseline for the next candidate) the cache is not used at all, and neither is a
folder that others may write (`location`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ENV = "GRADER_CACHE_DIR"
"""Where the cache lives; ``off`` (or ``none``, ``0``, empty) turns it off."""
OFF = ("", "off", "none", "0", "false", "no")
FOLDER = "interview-grader"
"""The cache's folder under ``$XDG_CACHE_HOME`` (``~/.cache``)."""


def location() -> Path | None:
    """The cache folder, created (mode 0700) when missing; None when the cache is off, when
    candidate code could write into it (a fallback worker with the grader's own uid), or when
    the folder is writable by others."""
    chosen = os.environ.get(ENV)
    if chosen is not None and chosen.strip().lower() in OFF:
        return None
    if not out_of_workers_reach():
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    root = Path(chosen) if chosen else base / FOLDER
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = root.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None  # anyone else could plant a value: not a cache to trust
    return root


def out_of_workers_reach() -> bool:
    """Whether no worker can write the cache: bubblewrap hides the host, or the fallback
    worker runs as a uid of its own (file modes keep it out)."""
    from grader.sandbox.isolation import bwrap_problem, fallback_has_own_uid

    return bwrap_problem() is None or fallback_has_own_uid()


@functools.cache
def code_digest() -> str:
    """The grader's code digest, computed once per process (the sources do not change under
    a running grader)."""
    from grader.batch import code_digest as digest

    return digest()


def key(what: str, inputs: Any) -> str:
    """The file name of a value: what it is, and a digest of its inputs and the code."""
    text = json.dumps(
        {"what": what, "inputs": inputs, "code": code_digest()}, sort_keys=True, default=str
    )
    return f"{what}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def remember(
    what: str,
    inputs: Any,
    compute: Callable[[], T],
    *,
    encode: Callable[[T], Any] = lambda value: value,
    decode: Callable[[Any], T] = lambda data: data,
    keep: Callable[[T], bool] = lambda value: True,
    root: Path | None = None,
) -> T:
    """The value ``compute()`` gives for ``inputs``, from the cache when it holds it.

    ``encode``/``decode`` turn the value into JSON data and back; ``keep`` says whether a
    computed value may be kept (a run stopped by a time limit depends on the machine's load,
    not only on the inputs: it is used, never kept). ``root`` defaults to `location`; with no
    cache, this is just ``compute()``."""
    root = root if root is not None else location()
    if root is None:
        return compute()
    path = root / f"{key(what, inputs)}.json"
    found = _read(path, decode)
    if found is not None:
        return found[0]
    with _locked(path.with_suffix(".lock")):
        found = _read(path, decode)  # another process computed it while we waited
        if found is not None:
            return found[0]
        value = compute()
        if keep(value):
            _write_atomically(path, json.dumps(encode(value), sort_keys=True))
    return value


def _read(path: Path, decode: Callable[[Any], T]) -> tuple[T] | None:
    """``(value,)`` from ``path``, or None when absent or unreadable (then it is recomputed
    and rewritten: a half-written or stale-format file never stops a grading)."""
    try:
        return (decode(json.loads(path.read_text(encoding="utf-8"))),)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for the block (released when the process dies)."""
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader sees the
    old file or the whole new one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
