"""Hostile and odd submissions graded through the CLI (issue 15): the correct code in each
keeps its grade, every report stays small, valid and free of control characters, the
console never carries the candidate's terminal escapes, output folders never collide, and
the pages are inert in a real Chromium.

The corpus (`hostile_corpus.TRAITS`, one file per trait) is graded in one batch at the smoke
budget (the point is survival; its verdicts are compared with the two clean submissions
graded beside them), except one trait file, graded alone at the default quick budget, where
the correct code must keep every task's verdict. `grader check` and `grader summary` then read the batch
back (nothing is regraded) so their console output is checked too.
"""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import GRADER, ROOT, Runner
from hostile_corpus import BASE_NAME, TRAITS, WEIRD_FILE_NAME, Trait, write_corpus

from grader.batch import BATCH_OUTPUTS, LOCK_FILE, unique_names
from grader.cli import expand_paths

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

REPORT_LIMIT = 5 * 1024**2
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 but tab and newline, DEL and C1: none may reach a report or the console."""
QUICK_TRAIT = "exception_surrogate.py"
"""Graded at the quick budget: a lone surrogate in an exception message killed the grading
process and lost the whole grade."""
SMOKE_TRAITS = tuple(t for t in TRAITS if t.file_name != QUICK_TRAIT)
PAGES_WITH_PAYLOADS = ("html_payloads.ipynb", "exception_html.py", "load_error.py", WEIRD_FILE_NAME)


@dataclass
class Hostile:
    out: Path
    folders: dict[str, Path]
    """File name -> its report folder."""
    smoke: subprocess.CompletedProcess
    quick_out: Path
    quick: subprocess.CompletedProcess
    readers: list[subprocess.CompletedProcess]
    """`grader check` and `grader summary` over the batch."""

    def result(self, file_name: str) -> dict[str, Any]:
        return json.loads((self.folders[file_name] / "result.json").read_text(encoding="utf-8"))

    def statuses(self, file_name: str) -> dict[str, str]:
        """The code tasks' statuses (written answers, ``question:<id>`` tasks, aside: a file
        whose code does not load has none to find)."""
        tasks = self.result(file_name)["tasks"]
        return {k: t["status"] for k, t in tasks.items() if not k.startswith("question:")}

    @property
    def runs(self) -> list[subprocess.CompletedProcess]:
        return [self.smoke, self.quick, *self.readers]


def _run(*args: str) -> subprocess.CompletedProcess:
    """The console script with its output kept as bytes (a raw escape must be seen as one)."""
    return subprocess.run(
        [str(GRADER), *args], capture_output=True, cwd=ROOT, timeout=1800, check=False
    )


@pytest.fixture(scope="module")
def hostile(grader: Runner, tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    root = tmp_path_factory.mktemp("hostile")
    paths = write_corpus(root / "submissions", SMOKE_TRAITS)
    (quick_trait,) = [t for t in TRAITS if t.file_name == QUICK_TRAIT]
    (root / QUICK_TRAIT).write_bytes(quick_trait.make())
    out, quick_out = root / "out", root / "quick"
    grading = ["-a", "transformer_lm", "--jobs", "2"]
    smoke = _run(
        "grade", str(root / "submissions"), *grading, "--budget", "smoke", "--out", str(out)
    )
    quick = _run("grade", str(root / QUICK_TRAIT), *grading, "--out", str(quick_out))
    readers = [
        _run("check", str(root / "submissions"), *grading, "--budget", "smoke", "--out", str(out)),
        _run("summary", str(out), "--out", str(root / "leaderboard")),
    ]
    # The folders the CLI chose, from the same ordered list of files it graded.
    graded = expand_paths([str(root / "submissions")])
    by_path = {p.resolve(): name for name, p in paths.items()}
    folders = {by_path[p]: out / n for p, n in zip(graded, unique_names(graded), strict=True)}
    return Hostile(out, folders, smoke, quick_out, quick, readers)


def _id(file_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", file_name)[:40]


def test_the_batch_completes(hostile: Hostile) -> None:
    assert hostile.smoke.returncode == 0, hostile.smoke.stderr.decode(errors="replace")[-3000:]
    assert len(hostile.folders) == len(SMOKE_TRAITS) + 2
    for file_name, folder in hostile.folders.items():
        assert (folder / "result.json").is_file(), file_name
        errors = " ".join(hostile.result(file_name)["errors"])
        assert "the grader failed" not in errors and "grading process died" not in errors, (
            f"{file_name}: {errors[:500]}"
        )


@pytest.mark.parametrize("trait", SMOKE_TRAITS, ids=lambda trait: _id(trait.file_name))
def test_the_correct_code_keeps_its_grade(hostile: Hostile, trait: Trait) -> None:
    got = hostile.statuses(trait.file_name)
    if trait.like is None:
        assert set(got.values()) == {trait.statuses}, got
    else:
        assert got == hostile.statuses(trait.like), f"{trait.file_name} graded unlike {trait.like}"


def test_at_the_quick_budget_the_correct_code_keeps_every_verdict(hostile: Hostile) -> None:
    assert hostile.quick.returncode == 0, hostile.quick.stderr.decode(errors="replace")[-3000:]
    (folder,) = [p for p in hostile.quick_out.iterdir() if p.is_dir()]
    result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    code = {k: t["status"] for k, t in result["tasks"].items() if not k.startswith("question:")}
    assert code == dict.fromkeys(code, "pass")  # the code is correct and complete: all pass
    checks = {c["name"]: c for c in result["tasks"]["multi_head_attention"]["checks"]}
    assert "\ufffd" in checks["multi_head_attention.rejects_indivisible"]["message"]


def _report_files(hostile: Hostile) -> Iterator[Path]:
    for out in (hostile.out, hostile.quick_out, hostile.out.parent / "leaderboard"):
        yield from (p for p in out.rglob("*") if p.is_file() and p.name != LOCK_FILE)


def test_every_report_is_small_valid_and_free_of_control_characters(hostile: Hostile) -> None:
    files = list(_report_files(hostile))
    assert len(files) >= 4 * len(hostile.folders)
    for path in files:
        data = path.read_bytes()
        assert len(data) < REPORT_LIMIT, f"{path}: {len(data):,} bytes"
        text = data.decode("utf-8")  # strict: a lone surrogate could not have been written
        assert not RAW_CONTROL.search(text), f"{path}: {RAW_CONTROL.findall(text)[:5]}"
        if path.suffix == ".xml":
            ET.fromstring(data)  # valid JUnit
        elif path.suffix == ".json":
            json.loads(text)


def test_summary_md_has_no_raw_html_and_no_remote_images(hostile: Hostile) -> None:
    for folder in hostile.folders.values():
        text = (folder / "summary.md").read_text(encoding="utf-8")
        assert text.replace("<br>", "").count("<") == 0, folder.name
        assert not re.search(r"(?<!\\)!\[|(?<!\\)\]\(", text), folder.name
    error = (hostile.folders["load_error.py"] / "summary.md").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in error and "\u241b" in error  # shown, escaped and visible


def test_the_console_never_carries_raw_control_characters(hostile: Hostile) -> None:
    for run in hostile.runs:
        for stream in (run.stdout, run.stderr):
            text = stream.decode("utf-8")
            assert not RAW_CONTROL.search(text), (run.args[1], RAW_CONTROL.findall(text)[:5])
    shown = hostile.smoke.stderr.decode() + hostile.readers[0].stdout.decode()
    assert "\u241b]0;pwned window title\u2407" in shown  # the message is there, made visible


def test_output_folders_never_collide(hostile: Hostile) -> None:
    top = {p.name for p in hostile.out.iterdir() if not p.is_dir()}
    assert top <= set(BATCH_OUTPUTS) and {"summary.json", "index.html"} <= top
    folders = set(hostile.folders.values())
    assert len(folders) == len(hostile.folders)
    assert {p for p in hostile.out.iterdir() if p.is_dir()} == folders
    assert hostile.folders["summary.json.py"].name != "summary.json"
    summary = json.loads((hostile.out / "summary.json").read_text(encoding="utf-8"))
    assert summary["count"] == len(hostile.folders)
    for row in summary["submissions"]:
        assert (hostile.out / row["scorecard"]).is_file()


@pytest.mark.parametrize("file_name", ["extra_cells.ipynb", "long_string.py"])
def test_big_inputs_give_small_reports_that_say_what_they_leave_out(
    hostile: Hostile, file_name: str
) -> None:
    folder = hostile.folders[file_name]
    assert (folder / "scorecard.html").stat().st_size < REPORT_LIMIT
    assert "source:" in " ".join(hostile.result(file_name)["intake"]["truncated"])
    assert 'id="code-not-shown"' in (folder / "scorecard.html").read_text(encoding="utf-8")


def test_odd_text_is_kept_visible_not_raw(hostile: Hostile) -> None:
    deep = " ".join(hostile.result("deep_metadata.ipynb")["errors"])
    assert "nests deeper than 100 levels" in deep
    answers = " ".join(a["answer"] for a in hostile.result("answer_surrogate.ipynb")["answers"])
    assert "\ufffd" in answers
    notes = " ".join(hostile.result("comment_surrogate.ipynb")["intake"]["format_notes"])
    assert "lone UTF-16 surrogate" in notes
    checks = hostile.result("exception_escapes.py")["tasks"]["multi_head_attention"]["checks"]
    message = next(c["message"] for c in checks if c["name"].endswith("rejects_indivisible"))
    assert "\u241b]0;pwned window title\u2407\u241b[2J" in message
    path = hostile.result(WEIRD_FILE_NAME)["submission"]["path"]
    assert path.endswith("name \u241b[31m \ufffd <img src=x onerror=alert(6)>.py")
    assert hostile.statuses(WEIRD_FILE_NAME) == hostile.statuses(BASE_NAME)


# --- the pages in Chromium ----------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _visit(browser: Any, path: Path) -> dict[str, Any]:
    """Open ``path`` and report what it did: flags set, dialogs, requests, live markup."""
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_timeout(200)  # let an onerror or a timer fire, had one been planted
        found = page.evaluate(
            """() => ({
                pwned: typeof window.__pwned,
                handlers: Array.from(document.querySelectorAll('*')).flatMap(
                    e => Array.from(e.attributes).map(a => a.name)).filter(n => n.startsWith('on')),
                scripts: Array.from(document.scripts).filter(s => s.textContent.includes('pwned')).length,
                javascript: document.querySelectorAll('[href^="javascript:" i], [src^="javascript:" i]').length,
                images: document.images.length,
                text: document.body.textContent,
            })"""
        )
    finally:
        context.close()
    return {**found, "dialogs": dialogs, "requests": requests}


@pytest.mark.browser
@pytest.mark.parametrize("file_name", PAGES_WITH_PAYLOADS, ids=_id)
def test_hostile_scorecards_are_inert_in_chromium(
    hostile: Hostile, chromium: Any, file_name: str
) -> None:
    path = hostile.folders[file_name] / "scorecard.html"
    seen = _visit(chromium, path)
    assert seen["pwned"] == "undefined" and seen["dialogs"] == []
    assert seen["handlers"] == [] and seen["scripts"] == 0 and seen["javascript"] == 0
    assert seen["images"] == 0
    assert seen["requests"] == [path.as_uri()]  # nothing fetched: not x, not example.com
    if file_name != WEIRD_FILE_NAME:
        assert "<script>window.__pwned = 1</script>" in seen["text"]  # shown as text


@pytest.mark.browser
def test_the_batch_page_is_inert_in_chromium(hostile: Hostile, chromium: Any) -> None:
    seen = _visit(chromium, hostile.out / "index.html")
    assert seen["pwned"] == "undefined" and seen["dialogs"] == []
    assert seen["handlers"] == [] and seen["javascript"] == 0
    assert seen["requests"] == [(hostile.out / "index.html").as_uri()]
    assert hostile.folders[WEIRD_FILE_NAME].name in seen["text"]
