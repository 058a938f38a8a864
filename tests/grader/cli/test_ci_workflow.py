"""ci/grade-submission.yml, the GitHub Actions workflow of a submission repository.

GitHub cannot run here, so the tests check what the workflow is made of (triggers, the
steps and their order) and then run its own shell steps, as the runner would (``bash -eo
pipefail``, the job's environment, ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` files), on a
workspace holding a real submission, with the grader of this checkout. The files the later
steps publish and upload must then exist, and the JUnit file must be well formed, with one
test case per check of each task. Needs PyYAML (a test dependency)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import ROOT, SUBMISSIONS

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the workflow")

WORKFLOW = ROOT / "ci" / "grade-submission.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
FORMATS = "--format html,json,junit,markdown"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def job(workflow: dict[str, Any]) -> dict[str, Any]:
    return workflow["jobs"]["grade"]


def step(job: dict[str, Any], text: str) -> dict[str, Any]:
    """The one step whose name, ``uses`` or script mentions ``text``."""
    found = [
        s
        for s in job["steps"]
        if text in " ".join(str(s.get(k, "")) for k in ("name", "uses", "run"))
    ]
    assert len(found) == 1, f"{len(found)} steps mention {text!r}"
    return found[0]


def evaluate(text: str, env: dict[str, str]) -> str:
    """Replace each ``${{ a || b || 'default' }}`` the way GitHub would on a push to a
    repository that sets no variables: inputs, vars and secrets are empty, env is the job's."""

    def value(match: re.Match[str]) -> str:
        for alternative in (a.strip() for a in match.group(1).split("||")):
            if alternative.startswith("'"):
                return alternative.strip("'")
            if alternative.startswith("env.") and env.get(alternative[4:]):
                return env[alternative[4:]]
        return ""

    return EXPRESSION.sub(value, text)


# --- what the workflow is made of -----------------------------------------------------------


def test_it_runs_on_push_by_hand_and_when_called(workflow: dict[str, Any]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request", "workflow_dispatch", "workflow_call"} <= set(triggers)
    for trigger in ("workflow_dispatch", "workflow_call"):
        assert "fail-under" in triggers[trigger]["inputs"]


def test_the_steps_come_in_order(job: dict[str, Any]) -> None:
    names = [s.get("uses", "") + s.get("run", "") for s in job["steps"]]
    order = [
        "actions/checkout",
        "bubblewrap",
        'bin/pip" install',
        'grader" grade',
        "GITHUB_STEP_SUMMARY",
        "junit-report",
        "upload-artifact",
    ]
    positions = [next(i for i, n in enumerate(names) if text in n) for text in order]
    assert positions == sorted(positions)


def test_the_submission_is_checked_out_without_credentials(job: dict[str, Any]) -> None:
    checkout = step(job, "actions/checkout")
    assert checkout["with"]["path"] == "submission"
    assert checkout["with"]["persist-credentials"] is False


def test_the_harness_is_installed_editable_with_bubblewrap_beside_it(job: dict[str, Any]) -> None:
    assert "apt-get install" in step(job, "bubblewrap")["run"]
    install = step(job, "Install the grader")["run"]
    assert "$GRADER_GIT_URL" in install and "git clone" in install
    assert re.search(r"pip\" install .*-e ", install), "the harness must be installed editable"


def test_the_grade_step_asks_for_every_report_and_the_fail_under_input(job: dict[str, Any]) -> None:
    grade = step(job, 'grader" grade')["run"]
    assert FORMATS in grade
    assert '--fail-under "$FAIL_UNDER"' in grade
    assert "inputs.fail-under" in job["env"]["FAIL_UNDER"]


def test_the_later_steps_run_even_when_the_grade_fails(job: dict[str, Any]) -> None:
    for text in ("GITHUB_STEP_SUMMARY", "Publish the checks", "upload-artifact"):
        assert step(job, text)["if"] == "always()"


# --- running its steps ------------------------------------------------------------------------


@dataclass
class Workspace:
    """A runner's workspace after the workflow's own steps ran in it."""

    root: Path
    env: dict[str, str]
    runs: dict[str, subprocess.CompletedProcess]
    """Step runs by label: ``grade``, ``summary``, ``grade_fail_under_100``."""

    def outputs(self) -> str:
        return Path(self.env["GITHUB_OUTPUT"]).read_text()


def run_step(script: str, workspace: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a step's script as the runner does for ``shell: bash``."""
    path = workspace.parent / "step.sh"
    path.write_text(script)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def ran(job: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    base = tmp_path_factory.mktemp("runner")
    root = base / "workspace"
    (root / "submission").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "typical.py", root / "submission" / "solution.py")
    env = dict(os.environ)
    env.update({k: evaluate(str(v), {}) for k, v in job["env"].items()})
    env["SUBMISSION"] = "*.py"  # as the repository variable GRADER_SUBMISSION would set it
    env.update(
        GITHUB_WORKSPACE=str(root),
        RUNNER_TEMP=str(base),
        GITHUB_OUTPUT=str(base / "output"),
        GITHUB_STEP_SUMMARY=str(base / "summary.md"),
        GRADER_VENV=str(Path(sys.executable).parents[1]),
    )
    if shutil.which("sudo") is None:  # the runner's user needs sudo; here we are root already
        if os.geteuid() != 0:
            pytest.skip(
                "the workflow runs the grader with sudo, and neither sudo nor root is available"
            )
        (base / "bin").mkdir()
        (base / "bin" / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
        (base / "bin" / "sudo").chmod(0o755)
        env["PATH"] = f"{base / 'bin'}{os.pathsep}{env['PATH']}"
    grade, summary = step(job, 'grader" grade'), step(job, "GITHUB_STEP_SUMMARY")
    runs = {
        "grade": run_step(grade["run"], root, env),
        "summary": run_step(summary["run"], root, env),
    }
    runs["grade_fail_under_100"] = run_step(grade["run"], root, {**env, "FAIL_UNDER": "100"})
    return Workspace(root, env, runs)


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_grade_step_grades_the_submission(ran: Workspace) -> None:
    run = ran.runs["grade"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "status=0" in ran.outputs()
    result = json.loads((ran.root / ran.env["REPORTS"] / "solution" / "result.json").read_text())
    assert result["submission"]["format"] == "py-percent"
    assert (
        result["tasks"]["attention"]["status"] == "pass"
        and result["tasks"]["multi_head_attention"]["status"] == "fail"
    )


@pytest.mark.slow
@pytest.mark.sandbox
def test_a_grade_below_the_input_fails_the_step(ran: Workspace) -> None:
    run = ran.runs["grade_fail_under_100"]
    assert run.returncode == 1
    assert "status=1" in ran.outputs()
    assert "below --fail-under 100" in run.stderr


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_job_summary_holds_the_markdown_report(ran: Workspace) -> None:
    assert ran.runs["summary"].returncode == 0
    written = Path(ran.env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    report = (ran.root / ran.env["REPORTS"] / "solution" / "summary.md").read_text(encoding="utf-8")
    assert report.strip() and report.strip() in written


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_uploaded_folder_holds_every_report(ran: Workspace, job: dict[str, Any]) -> None:
    upload = ran.root / evaluate(step(job, "upload-artifact")["with"]["path"], ran.env)
    assert upload.is_dir()
    for file in ("result.json", "scorecard.html", "junit.xml", "summary.md"):
        assert (upload / "solution" / file).is_file(), file
    assert (upload / "index.html").is_file() and (upload / "summary.json").is_file()


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_published_junit_is_well_formed_with_a_case_per_check(
    ran: Workspace, job: dict[str, Any]
) -> None:
    pattern = evaluate(step(job, "Publish the checks")["with"]["report_paths"], ran.env)
    files = glob.glob(str(ran.root / pattern))
    assert len(files) == 1
    root = ET.parse(files[0]).getroot()
    assert_junit_counts(root)
    result = json.loads(Path(files[0]).with_name("result.json").read_text())
    suites = {
        suite.get("name"): [case.get("name") for case in suite.iter("testcase")]
        for suite in root.iter("testsuite")
    }
    for task_id, task in result["tasks"].items():
        expected = [check["name"] for check in task["checks"]] or [f"{task_id}.implemented"]
        cases = [
            c for c in suites[task_id] if not c.startswith("training.run.")
        ]  # plus one case per training run
        assert sorted(cases) == sorted(expected), task_id
        assert len(set(cases)) == len(cases)


def assert_junit_counts(root: ET.Element) -> None:
    """The structure JUnit readers rely on: counts that match the cases, one outcome a case."""
    assert root.tag == "testsuites"
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        outcomes = [
            [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            for case in cases
        ]
        assert all(len(o) <= 1 for o in outcomes)
        counts = {
            "tests": len(cases),
            "failures": sum(o == ["failure"] for o in outcomes),
            "errors": sum(o == ["error"] for o in outcomes),
            "skipped": sum(o == ["skipped"] for o in outcomes),
        }
        assert {k: int(suite.get(k)) for k in counts} == counts, suite.get("name")
        for case in cases:
            assert case.get("name") and case.get("classname")
            float(case.get("time"))
        totals = {k: totals[k] + counts[k] for k in totals}
    assert {k: int(root.get(k)) for k in totals} == totals
