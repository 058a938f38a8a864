"""Settings are part of a result, on the command line: a rerun into the same --out with other
settings is refused unless --force, and `grader summary` will not rank results of different
settings unless --mixed-settings. The submissions here are not gradable (an empty file, a
refused archive), so no sandbox starts and each run takes seconds."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

from cli_support import Runner
from report.fixtures import graded_result

from grader import settings
from grader.assignment import get
from grader.config import GraderConfig
from grader.report import write_reports


def grade(grader: Runner, folder: Path, out: Path, *extra: str):
    return grader(
        "grade", str(folder), "-a", "transformer_lm", "--out", str(out), "--jobs", "1", *extra
    )


def test_a_rerun_with_other_settings_is_refused_unless_forced(
    grader: Runner, tmp_path: Path
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "empty.py").write_bytes(b"")
    out = tmp_path / "out"
    first = grade(grader, folder, out, "--budget", "quick")
    assert first.returncode == 0, first.stderr
    result = out / "empty" / "result.json"
    assert json.loads(result.read_text())["environment"]["settings"]["budget"] == "quick"
    written = result.stat().st_mtime_ns

    refused = grade(grader, folder, out, "--budget", "smoke", "--seed", "4")
    assert refused.returncode == 2
    assert "holds results graded with other settings" in refused.stderr
    assert "budget: smoke vs quick" in refused.stderr and "seed: 4 vs 0" in refused.stderr
    assert "--force" in refused.stderr
    assert result.stat().st_mtime_ns == written  # nothing was regraded

    same = grade(grader, folder, out, "--budget", "quick")
    assert same.returncode == 0 and "already graded" in same.stderr

    forced = grade(grader, folder, out, "--budget", "smoke", "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(result.read_text())["environment"]["settings"]["budget"] == "smoke"
    assert "not a grade" in forced.stderr.lower()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["budget"] == "smoke"


def write_result(folder: Path, name: str, budget: str, overall: float) -> None:
    base = graded_result()
    recorded = settings.of_run(get("transformer_lm"), GraderConfig(budget=budget), {})
    result = replace(
        base,
        submission=replace(base.submission, name=name),
        overall=overall,
        environment={**base.environment, "settings": recorded},
    )
    write_reports(result, folder / name, formats=("json",))


def test_summary_refuses_mixed_settings_unless_told(grader: Runner, tmp_path: Path) -> None:
    write_result(tmp_path / "run-quick", "alice", "quick", 80.0)
    write_result(tmp_path / "run-quick", "bob", "quick", 60.0)
    write_result(tmp_path / "run-smoke", "carol", "smoke", 95.0)
    folders = [str(tmp_path / "run-quick"), str(tmp_path / "run-smoke")]
    board = tmp_path / "board"
    refused = grader("summary", *folders, "--out", str(board))
    assert refused.returncode == 2
    assert "different settings" in refused.stderr and "budget: quick / smoke" in refused.stderr
    assert "--mixed-settings" in refused.stderr and not board.exists()

    alone = grader("summary", folders[0], "--out", str(board))
    assert alone.returncode == 0, alone.stderr
    ranking = [line for line in alone.stdout.splitlines() if re.match(r"\s*\d+\.\s", line)]
    assert [line.split()[-2] for line in ranking] == ["alice", "bob"]

    mixed = grader("summary", *folders, "--mixed-settings", "--out", str(board))
    assert mixed.returncode == 0, mixed.stderr
    assert "warning: mixed settings" in mixed.stdout and "[assignment" in mixed.stdout
    summary = json.loads((board / "summary.json").read_text())
    assert summary["mixed_settings"] == {"budget": ["quick", "smoke"]}
    assert "mixed-settings" in (board / "index.html").read_text()


def test_summary_lists_not_gradable_results_apart(grader: Runner, tmp_path: Path) -> None:
    write_result(tmp_path / "run", "alice", "quick", 80.0)
    shutil.copytree(tmp_path / "run" / "alice", tmp_path / "run" / "empty")
    data = json.loads((tmp_path / "run" / "empty" / "result.json").read_text())
    data["submission"]["name"] = "empty"
    data.update(status="not_gradable", overall=None, reason="the file is empty")
    (tmp_path / "run" / "empty" / "result.json").write_text(json.dumps(data))
    run = grader("summary", str(tmp_path / "run"), "--out", str(tmp_path / "board"))
    assert run.returncode == 0, run.stderr
    ranking = [line for line in run.stdout.splitlines() if re.match(r"\s*\d+\.\s", line)]
    assert len(ranking) == 1 and "alice" in ranking[0]
    assert "not gradable (1), not ranked:" in run.stdout and "the file is empty" in run.stdout
    summary = json.loads((tmp_path / "board" / "summary.json").read_text())
    assert [r["name"] for r in summary["not_gradable"]] == ["empty"]
