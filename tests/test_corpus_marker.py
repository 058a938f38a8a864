"""`make test` never grades a whole corpus: tests marked ``corpus`` (tens of minutes) run only
under a marker expression that asks for them, as `make test-corpus` does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WILD = "tests/wild/test_wild.py"
CORPUS_TEST = "test_task_verdicts_are_the_reviewers["


def collected(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_corpus_tests_run_only_when_asked_for() -> None:
    plain, asked = collected(WILD), collected("-m", "corpus", WILD)
    assert not any(CORPUS_TEST in t for t in plain)
    assert any("test_slice_task_verdicts_are_the_reviewers[" in t for t in plain)
    assert asked and all(CORPUS_TEST in t or "test_the_bug_is_caught" in t for t in asked)


def test_the_test_script_and_the_makefile_agree() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert '-m "not corpus"' in script
    assert "test-corpus:" in makefile and "-m corpus" in makefile
