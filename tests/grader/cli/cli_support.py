"""Helpers of the command-line tests, imported by conftest.py and the test modules (a module
name of its own: several test folders have a conftest.py). The real console script, the bad
submissions of the batch, and the processes a run leaves behind."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GRADER = Path(sys.executable).with_name("grader")
"""The installed console script of the venv running the tests (.venv/bin/grader)."""
SUBMISSIONS = ROOT / "submissions"
PTB_DIR = ROOT / ".." / "shared" / "data" / "ptb"

BAD_SUBMISSIONS = {
    # file name -> (content, what its result must say)
    "syntax_error.py": (
        b"import torch\n\n\ndef attention(query, key, value:\n    return query\n",
        "was never closed",
    ),
    "empty.py": (b"", "the file is empty"),
    "binary_junk.txt": (bytes(range(256)) * 8, "binary file"),
    # A class body runs when the program loads: the worker never becomes ready.
    "hang.py": (
        b"import torch\n\n\nclass Hang:\n    while True:\n        pass\n",
        "failed to load",
    ),
}
MAPPED_SYMBOL = "fancy_kernel"
"""The name `attention` gets in the mapped copy of submissions/typical.py: no alias of it."""

Runner = Callable[..., subprocess.CompletedProcess]


def run_grader(
    *args: str, cwd: Path | None = None, timeout: float = 900, **kwargs: object
) -> subprocess.CompletedProcess:
    """Run the console script and capture its output as text."""
    return subprocess.run(
        [str(GRADER), *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        **kwargs,
    )


def mapped_typical() -> bytes:
    """submissions/typical.py with `attention` renamed, so that only --map can find it."""
    text = (SUBMISSIONS / "typical.py").read_text(encoding="utf-8")
    renamed, count = re.subn(r"\battention\(", f"{MAPPED_SYMBOL}(", text)
    assert count >= 2, "typical.py no longer defines and calls attention()"
    return renamed.encode()


@dataclass
class GradedBatch:
    """A batch graded in two runs: interrupted, then resumed."""

    folder: Path
    """The submissions."""
    out: Path
    args: list[str]
    """The `grader grade` arguments both runs used."""
    ptb: bool
    """Whether the run trained on the Penn Treebank splits (--data-dir) or the synthetic corpus."""
    interrupted: subprocess.CompletedProcess
    done_after_interrupt: dict[str, int] = field(default_factory=dict)
    """Submission name -> result.json mtime (ns) when the first run had ended."""
    survivors: list[int] = field(default_factory=list)
    """Processes of the first run still alive after it exited (must be none)."""
    resumed: subprocess.CompletedProcess | None = None

    def result_path(self, name: str) -> Path:
        return self.out / name / "result.json"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:  # ended while we looked
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is running (a zombie has finished: it only waits to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
