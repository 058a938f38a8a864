"""ci/grade-candidates.yml, the interviewer's workflow that grades candidates' repositories.

GitHub cannot run here, so the tests check what the workflow is made of (where secrets are,
what the job running candidate code can reach, that no script evaluates an expression) and
then run its jobs' own steps with `actions_runner` against two candidate repositories made
here (git folders in a temporary directory) and a bare clone of this harness tagged as a
release: plan (pin each candidate to a commit), fetch, grade (this checkout's grader, the
smoke budget), sign, merge and the commit statuses, end to end. Steps that install packages
are skipped (this venv stands in for the one they make); posting the statuses needs
GitHub. The harness clone is of this repository's HEAD commit: the `grader.candidates` the
plan and fetch jobs run is the committed one. Needs PyYAML, git and jq."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from actions_runner import EXPRESSION, Runner, base_environment
from cli_support import GRADER, ROOT, SUBMISSIONS

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the workflow")

WORKFLOW = ROOT / "ci" / "grade-candidates.yml"
KEY = "interviewer-secret-" + "5e" * 20
JOBS = ("plan", "fetch", "grade", "sign", "merge", "status")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def job_text(workflow: dict[str, Any], name: str) -> str:
    return yaml.safe_dump(workflow["jobs"][name])


# --- what the workflow is made of -----------------------------------------------------------


def test_it_runs_by_hand_in_the_interviewers_repository_only(workflow: dict[str, Any]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"workflow_dispatch"}  # no push or pull request a candidate makes
    assert {"candidates", "assignment", "budget", "post-status"} <= set(
        triggers["workflow_dispatch"]["inputs"]
    )
    assert workflow["permissions"] == {}
    assert not (ROOT / "ci" / "grade-submission.yml").exists()  # the in-candidate workflow


def test_the_job_running_candidate_code_holds_no_secret_and_no_token(
    workflow: dict[str, Any],
) -> None:
    grade = job_text(workflow, "grade")
    assert "secrets." not in grade and "github.token" not in grade
    assert workflow["jobs"]["grade"]["permissions"] == {}
    workflow_env = yaml.safe_dump(workflow["env"])
    assert "secrets." not in workflow_env  # nothing inherited from the workflow either
    step = next(s for s in workflow["jobs"]["grade"]["steps"] if s.get("id") == "grade")
    assert "sudo env -i PATH=" in step["run"]  # the grader starts from an empty environment


def test_each_secret_is_referenced_only_by_the_jobs_that_need_it(workflow: dict[str, Any]) -> None:
    where: dict[str, set[str]] = {}
    for name in workflow["jobs"]:
        for secret in re.findall(r"secrets\.([A-Z0-9_]+)", job_text(workflow, name)):
            where.setdefault(secret, set()).add(name)
    assert where == {
        "GRADER_TOKEN": {"plan"},
        "CANDIDATE_READ_TOKEN": {"plan", "fetch"},
        "GRADER_SIGNING_KEY": {"sign", "merge"},
        "GRADER_ED25519_KEY": {"sign", "merge"},
        "CANDIDATE_STATUS_TOKEN": {"status"},
    }
    for name in ("sign", "merge", "status", "fetch"):  # none of them runs the candidate's code
        assert 'grader" grade' not in job_text(workflow, name)


def test_no_script_evaluates_an_expression(workflow: dict[str, Any]) -> None:
    """A `${{ }}` inside `run:` is pasted into the script before bash reads it: a repository
    name or a file name would become code. Every value reaches scripts as a variable."""
    scripts = [s["run"] for job in workflow["jobs"].values() for s in job["steps"] if "run" in s]
    assert len(scripts) >= 10
    for script in scripts:
        assert not EXPRESSION.search(script), script


def test_candidates_are_a_matrix_of_jobs_pinned_by_the_plan(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    for name in ("fetch", "grade"):
        strategy = jobs[name]["strategy"]
        assert strategy["fail-fast"] is False and strategy["max-parallel"] >= 1
        assert strategy["matrix"]["candidate"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert jobs["grade"]["needs"] == ["plan", "fetch"]
    assert jobs["sign"]["needs"] == ["plan", "grade"] and jobs["merge"]["needs"] == "sign"
    clone = next(s["run"] for s in jobs["plan"]["steps"] if "git" in s.get("run", ""))
    assert '--branch "$GRADER_TAG"' in clone  # the harness at its pinned release
    assert workflow["env"]["GRADER_TAG"] == "${{ vars.GRADER_TAG }}"  # no default branch
    merge = next(s["run"] for s in jobs["merge"]["steps"] if "summary" in s.get("run", ""))
    assert "--require-signed" in merge and 'grader" verify' in merge


# --- running its jobs -------------------------------------------------------------------------


def git(*args: str, cwd: Path) -> str:
    identity = ["-c", "user.name=Candidate", "-c", "user.email=c@example.com"]
    done = subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def candidate_repository(folder: Path, files: dict[str, bytes]) -> str:
    folder.mkdir(parents=True)
    git("init", "--quiet", "-b", "main", cwd=folder)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    git("add", "-A", cwd=folder)
    git("commit", "--quiet", "-m", "my answer", cwd=folder)
    return git("rev-parse", "HEAD", cwd=folder)


class Run:
    """The workflow run: the runner, the repositories, and what each candidate was pinned to."""

    def __init__(self, runner: Runner, pinned: dict[str, str], later: str) -> None:
        self.runner = runner
        self.pinned = pinned
        self.later = later
        """The commit alice pushed after the run was planned (must not be graded)."""

    def step(self, job: str, name: str) -> list:
        return [s for s in self.runner.steps if s.job == job and s.name.startswith(name)]


@pytest.fixture(scope="module")
def ran(workflow: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Run:
    for tool in ("git", "jq"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not GRADER.is_file():
        pytest.skip(f"the console script {GRADER} is not installed")
    root = tmp_path_factory.mktemp("ci")
    remotes = root / "remotes"
    typical = (SUBMISSIONS / "typical.py").read_bytes()
    alice = candidate_repository(remotes / "acme" / "alice", {"solution.py": typical})
    bob_files = {"answer.py": (SUBMISSIONS / "plain_typical.py").read_bytes()}
    bob = candidate_repository(remotes / "acme" / "bob", bob_files)
    # A link out of bob's repository to the harness's reference: removed when fetched.
    (remotes / "acme" / "bob" / "stolen.py").symlink_to(ROOT / "reference" / "attention.py")
    git("add", "stolen.py", cwd=remotes / "acme" / "bob")
    git("commit", "--quiet", "-m", "borrow", cwd=remotes / "acme" / "bob")
    bob = git("rev-parse", "HEAD", cwd=remotes / "acme" / "bob")
    git("tag", "v1", cwd=remotes / "acme" / "bob")
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(ROOT), str(root / "harness.git")], check=True
    )
    git("tag", "v-test", "HEAD", cwd=root / "harness.git")
    interviewer = root / "interviewer"
    (interviewer / "ci").mkdir(parents=True)
    (interviewer / "ci" / "candidates.txt").write_text(
        "# the interviewer's list\nacme/alice main solution.py\nacme/bob v1 *.py\n"
    )
    prefix = ""
    if shutil.which("sudo") is None:  # the runner's user has sudo; here we are root already
        if os.geteuid() != 0:
            pytest.skip("the grade step uses sudo, and neither sudo nor root is available")
        (root / "bin").mkdir()
        (root / "bin" / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
        (root / "bin" / "sudo").chmod(0o755)
        prefix = str(root / "bin")
    runner = Runner(
        workflow,
        root / "run",
        inputs={"candidates": "", "assignment": "transformer_lm", "submission": "*.ipynb",
                "budget": "smoke", "post-status": True},
        vars={"GRADER_GIT_URL": str(root / "harness.git"), "GRADER_TAG": "v-test",
              "CANDIDATE_URL_BASE": str(remotes)},
        secrets={"GRADER_SIGNING_KEY": KEY},
        checkout=interviewer,
        base_env=base_environment(prefix),
        skip=frozenset({"bubblewrap", "python", "install", "post"}),
        overrides={"GRADER_VENV": str(Path(sys.executable).parents[1])},
    )  # fmt: skip
    runner.run_job("plan")
    # Alice pushes again once the run has started: the run grades what it pinned.
    (remotes / "acme" / "alice" / "solution.py").write_text("# replaced after the deadline\n")
    git("commit", "--quiet", "-am", "late", cwd=remotes / "acme" / "alice")
    later = git("rev-parse", "HEAD", cwd=remotes / "acme" / "alice")
    for job in JOBS[1:]:
        runner.run_job(job)
    return Run(runner, {"acme/alice": alice, "acme/bob": bob}, later)


def failures(run: Run) -> str:
    return "\n".join(
        f"{s.job}/{s.name}: {s.result.stdout[-1500:]}{s.result.stderr[-3000:]}"
        for s in run.runner.steps
        if s.result is not None and s.result.returncode != 0
    )


@pytest.mark.slow
@pytest.mark.sandbox
def test_every_job_succeeds(ran: Run) -> None:
    assert ran.runner.results == dict.fromkeys(JOBS, "success"), failures(ran)


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_plan_pins_each_candidate_to_a_commit(ran: Run) -> None:
    matrix = json.loads(ran.runner.outputs["plan"]["matrix"])
    assert [(c["repository"], c["commit"]) for c in matrix] == list(ran.pinned.items())
    assert [c["submission"] for c in matrix] == ["solution.py", "*.py"]
    assert ran.later not in json.dumps(matrix)
    manifest = ran.runner.store / "candidate-acme-bob"
    subprocess.run(
        ["tar", "-xf", str(manifest / "candidate-acme-bob.tar"), "-C", str(manifest)], check=True
    )
    fetched = json.loads((manifest / "candidate.json").read_text())
    assert fetched["removed_symlinks"] == ["stolen.py"]
    assert not (manifest / "candidate" / ".git").exists()


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_grading_step_runs_without_the_key_and_the_signing_step_with_it(ran: Run) -> None:
    (grade, *_), (sign, *_) = ran.step("grade", "Grade"), ran.step("sign", "Sign each")
    grading = [s for s in ran.runner.steps if s.job == "grade"]
    assert len(grading) >= 2 * 8  # both candidates, every step recorded
    for step in grading:
        assert "GRADER_SIGNING_KEY" not in step.env
        assert all(KEY not in value for value in step.env.values()), step.name
    assert grade.result is not None and grade.result.returncode == 0
    assert sign.env["GRADER_SIGNING_KEY"] == KEY  # the secret does reach the job that signs


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_signed_results_name_the_pinned_commits(ran: Run) -> None:
    signed = ran.runner.store / "signed-results"
    env = {**base_environment(), "GRADER_SIGNING_KEY": KEY}
    verify = subprocess.run(
        [str(GRADER), "verify", str(signed)], env=env, capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    alice = json.loads((signed / "acme-alice" / "solution" / "result.json").read_text())
    assert alice["provenance"]["repository"] == "acme/alice"
    assert alice["provenance"]["commit"] == ran.pinned["acme/alice"]
    assert alice["provenance"]["harness"]["commit"] is not None
    typical = hashlib.sha256((SUBMISSIONS / "typical.py").read_bytes()).hexdigest()
    assert alice["submission"]["sha256"] == typical  # what was committed, not the late push
    bob = json.loads((signed / "acme-bob" / "answer" / "result.json").read_text())
    assert bob["provenance"]["commit"] == ran.pinned["acme/bob"]
    assert not (signed / "acme-bob" / "stolen").exists()


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_leaderboard_holds_only_verified_rows_and_backs_the_statuses(ran: Run) -> None:
    reports = ran.runner.store / "grader-reports"
    summary = json.loads((reports / "leaderboard" / "summary.json").read_text())
    rows = {row["repository"]: row for row in summary["submissions"]}
    assert set(rows) == {"acme/alice", "acme/bob"}
    assert all(row["signature"] == "verified" for row in rows.values())
    assert "signature" in summary and summary["provenance"]["kind"] == "summary"
    step_summary = next(p for p in (ran.runner.root / "jobs").glob("merge-0/step_summary.md"))
    assert "Leaderboard (signed results only)" in step_summary.read_text()
    (listing,) = ran.step("status", "List the statuses")
    lines = [line.split("\t") for line in listing.result.stdout.splitlines()]
    assert {(repo, commit) for repo, commit, _, _ in lines} == set(ran.pinned.items())
    assert all(state == "success" and "(signed)" in text for _, _, state, text in lines)


@pytest.mark.slow
@pytest.mark.sandbox
def test_a_result_edited_between_jobs_is_refused_by_the_merge(ran: Run) -> None:
    """Runs after the others: it edits the signed artifact and runs the merge job again."""
    signed = ran.runner.store / "signed-results" / "acme-bob" / "answer" / "result.json"
    data = json.loads(signed.read_text())
    data["overall"] = 100.0
    signed.write_text(json.dumps(data, indent=2))
    shutil.rmtree(ran.runner.store / "grader-reports")
    shutil.rmtree(ran.runner.root / "jobs" / "merge-0")
    assert ran.runner.run_job("merge") == "failure"
    merge = [s for s in ran.step("merge", "Merge only") if s.result is not None][-1]
    assert "refused: INVALID" in merge.result.stderr
    assert not (ran.runner.store / "grader-reports").exists()  # nothing published
