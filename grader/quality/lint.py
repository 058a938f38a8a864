"""The curated ruff rule set, run over the candidate's program as text.

Findings are kept on the candidate's lines only, and not on a notebook's top-level display
statements (``x.shape``, ``print(...)``): how a cell shows a value is not code to judge.

ruff parses the text it reads on stdin and never executes it, so running it from the grader
process keeps the trust boundary. It runs ``--isolated`` so that no configuration file near
the grader (or planted in a submission's folder) changes the rules.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from grader.config import QualityConfig
from grader.quality.source import Program
from grader.result import Finding


class LintError(RuntimeError):
    """ruff could not be found or did not answer."""


def ruff_binary() -> Path:
    """The ruff installed next to this interpreter (the project's venv), else on PATH."""
    beside = Path(sys.executable).parent / "ruff"
    if beside.exists():
        return beside
    found = shutil.which("ruff")
    if found is None:
        raise LintError("ruff is not installed next to the interpreter or on PATH")
    return Path(found)


def lint(program: Program, config: QualityConfig) -> list[Finding]:
    """ruff's findings on the candidate's lines, as ``ruff.<code>`` readability findings."""
    command = [
        str(ruff_binary()),
        "check",
        "--isolated",
        "--no-cache",
        "--output-format=json",
        f"--target-version={config.ruff_target_version}",
        f"--select={','.join(config.ruff_select)}",
        f"--ignore={','.join(config.ruff_ignore)}",
        "--stdin-filename=candidate.py",
        "-",
    ]
    try:
        done = subprocess.run(
            command,
            input=program.source,
            capture_output=True,
            text=True,
            timeout=config.ruff_timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LintError(f"ruff did not run: {exc}") from exc
    # Exit 0: clean, 1: findings; anything else is ruff failing (bad option, crash).
    if done.returncode not in (0, 1):
        raise LintError(f"ruff exited {done.returncode}: {done.stderr.strip()[:500]}")
    findings = []
    display = program.display_lines()
    for item in json.loads(done.stdout or "[]"):
        line = item["location"]["row"]
        if item["code"] is None or not program.owns_line(line) or line in display:
            continue  # no code: a syntax error; the handout's lines and displays are not judged
        findings.append(
            Finding(
                rule=f"ruff.{item['code']}",
                criterion="readability",
                message=item["message"],
                line=line,
                severity="minor",
                symbol=program.symbol_at(line),
            )
        )
    return findings
