"""``grader summary``: merge the results of many runs into one leaderboard, trusting none.

The folders merged are downloads (CI artifacts, copies from other machines): anything in
them may have been written by hand. So each ``result.json`` is

* read with bounds (size, nesting) and checked for the types the ranking needs: a
  malformed one is skipped with its reason and the rest are merged;
* checked for a signature (`grader.signing`): every row says ``verified``, ``unsigned``,
  ``INVALID`` or ``unchecked``, untrusted rows rank below trusted ones, and with
  ``require_signed`` only verified results are merged;
* re-rendered here: the leaderboard links only pages it rendered itself from the result
  (``<out>/results/<name>/scorecard.html``, with a banner when the result is not verified)
  and a copy of the result, never a ``scorecard.html`` found beside it, which could hold
  anything (a script, a different grade).

The output folder holds a marker file, so a later ``summary`` over a parent folder does not
merge the copies again.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from grader import settings as run_settings
from grader.report.batch import write_batch
from grader.report.files import (
    ReportError,
    atomic_write_text,
    dump_json,
    read_json,
    result_from_data,
)
from grader.report.html import render_scorecard
from grader.result import SubmissionResult
from grader.signing import Keys, Verification, provenance_for, sign_document, verify_document

MARKER = ".grader-summary"
"""A file in every folder `merge` writes: its copies are not results to merge again."""
COPIES = "results"
"""The sub-folder of the output that holds the re-rendered copies, one folder per row."""


class MixedSettings(Exception):
    """The results were graded under different settings (and mixing was not asked for): the
    message names what differs."""


@dataclass
class Merged:
    """What a merge did."""

    rows: list[tuple[SubmissionResult, Path, Verification]] = field(default_factory=list)
    """Each result merged, the folder of its copies, and its signature check."""
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """Result files not merged, with the reason (malformed, unreadable, refused)."""
    refused: int = 0
    """How many of the skipped were refused for their signature (``require_signed``)."""
    summary: Path | None = None
    index: Path | None = None


def find_results(folders: list[Path], out: Path) -> list[Path]:
    """Every ``result.json`` under ``folders``, except the copies inside a summary's output."""
    found: list[Path] = []
    for folder in folders:
        for path in sorted(folder.rglob("result.json")):
            parents = path.resolve().parents
            if out.resolve() in parents or any((p / MARKER).exists() for p in parents):
                continue
            found.append(path.resolve())
    return list(dict.fromkeys(found))


def merge(
    folders: list[Path],
    out: Path,
    keys: Keys,
    *,
    require_signed: bool = False,
    mixed_settings: bool = False,
) -> Merged:
    """Merge every result under ``folders`` into ``out`` (summary.json, index.html and the
    copies), signing summary.json when ``keys`` can sign. Results graded under different
    settings raise `MixedSettings` unless ``mixed_settings`` (then every row shows its own)."""
    merged = Merged()
    results = []
    for path in find_results(folders, out):
        try:
            results.append(result_from_data(read_json(path), path))
        except ReportError:
            continue  # said below, when the file is read for the merge
    spread = run_settings.spread([run_settings.of_result(r) for r in results])
    if spread and not mixed_settings:
        raise MixedSettings(
            "these results were graded under different settings, so their grades do not "
            "compare: "
            + "; ".join(f"{run_settings.LABELS[k]}: {' / '.join(v)}" for k, v in spread.items())
            + ". Regrade them with one set of settings, summarise each set on its own, or pass "
            "--mixed-settings to list them together anyway (each row then shows its settings)"
        )
    _prepare(out)
    names: set[str] = set()
    for path in find_results(folders, out):
        try:
            data = read_json(path)
            result = result_from_data(data, path)
        except ReportError as exc:
            merged.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
            continue
        check = verify_document(data, keys)
        if require_signed and not check.verified:
            merged.skipped.append((path, f"refused: {check.status}: {check.reason}"))
            merged.refused += 1
            continue
        folder = out / COPIES / _unique(result.submission.name, names)
        try:
            page = render_scorecard(result, signature=check)
        except Exception as exc:  # noqa: BLE001 - a hostile result must not stop the merge
            merged.skipped.append((path, f"cannot be rendered: {type(exc).__name__}: {exc}"))
            continue
        atomic_write_text(folder / "result.json", dump_json(data))  # signed content unchanged
        atomic_write_text(folder / "scorecard.html", page)
        merged.rows.append((result, folder, check))
    if merged.rows:
        merged.summary, merged.index = write_batch(
            [(result, folder) for result, folder, _ in merged.rows],
            out,
            checks=[check for _, _, check in merged.rows],
        )
        if keys.can_sign:
            document = read_json(merged.summary)
            signed = sign_document(document, keys, provenance_for(document))
            atomic_write_text(merged.summary, dump_json(signed))
    return merged


def _prepare(out: Path) -> None:
    """Mark ``out`` as a summary's folder and drop the copies of a previous merge there."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / MARKER).exists():
        shutil.rmtree(out / COPIES, ignore_errors=True)
    (out / MARKER).write_text("written by `grader summary`: copies, not results to merge\n")


def _unique(name: str, taken: set[str]) -> str:
    """A folder name for a row: the submission's name made safe, unique in this merge."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:64] or "submission"
    chosen, n = base, 2
    while chosen in taken:
        chosen, n = f"{base}-{n}", n + 1
    taken.add(chosen)
    return chosen
