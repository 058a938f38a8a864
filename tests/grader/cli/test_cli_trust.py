"""Nothing the candidate supplies is trusted, on the command line: symlinks out of the
submission folder, an assignment inside the submission tree, and the batch's output folder
seen from a worker that runs without bubblewrap.

The refusals happen before anything is graded, so those tests take a second each. The one
slow test grades a probe without bubblewrap (``PATH`` without ``bwrap``, the way a machine
without the package looks to the grader) to show that the output folder is hidden."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cli_support import GRADER, ROOT, SUBMISSIONS, Runner

BUILTIN = ROOT / "grader" / "assignments" / "transformer_lm"


def test_symlinks_out_of_the_submission_folder_are_refused(grader: Runner, tmp_path: Path) -> None:
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "answers.md").symlink_to(ROOT / "reference" / "answers" / "transformer_lm.md")
    (cand / "solution.py").symlink_to(ROOT / "reference" / "attention.py")
    for pattern in (str(cand), str(cand / "*.py"), str(cand / "solution.py")):
        run = grader("grade", pattern, "-a", "transformer_lm", "--out", str(tmp_path / "out"))
        assert run.returncode == 2, run.stderr
        assert f"resolves to {ROOT / 'reference' / 'attention.py'}" in run.stderr
        assert "outside the folder it was given in" in run.stderr
        assert "refused, see above" in run.stderr
    assert not (tmp_path / "out").exists()  # nothing was graded


def test_an_assignment_inside_the_submission_tree_is_refused(
    grader: Runner, tmp_path: Path
) -> None:
    cand = tmp_path / "cand"
    shutil.copytree(BUILTIN, cand / "transformer_lm")  # the built-in id, the weights theirs
    shutil.copy(SUBMISSIONS / "typical.py", cand / "solution.py")
    by_folder = grader(
        "grade", str(cand / "solution.py"), "-a", str(cand / "transformer_lm"), "--out", str(tmp_path / "o")
    )  # fmt: skip
    assert by_folder.returncode == 2
    assert "lies inside the submission folder" in by_folder.stderr
    # The built-in id, run from inside the candidate's checkout: their folder of that name wins
    # the lookup, and is refused rather than loaded.
    by_id = grader("grade", "solution.py", "-a", "transformer_lm", "--out", "../o", cwd=cand)
    assert by_id.returncode == 2 and "lies inside the submission folder" in by_id.stderr
    by_dir = grader(
        "--assignments-dir", str(cand), "grade", str(cand), "-a", "transformer_lm", "--out", str(tmp_path / "o")
    )  # fmt: skip
    assert by_dir.returncode == 2 and "lies inside the submission folder" in by_dir.stderr
    assert not (tmp_path / "o").exists()


# --- without bubblewrap ---------------------------------------------------------------------


@pytest.fixture
def no_bwrap(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has setpriv but no bwrap: the grader falls back to rlimits."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if shutil.which("setpriv"):
        (bin_dir / "setpriv").symlink_to(shutil.which("setpriv"))
    return {**os.environ, "PATH": str(bin_dir)}


def fallback_has_own_uid(env: dict[str, str]) -> bool:
    import subprocess

    code = "from grader.sandbox.isolation import fallback_has_own_uid as f; print(f())"
    done = subprocess.run(
        [str(GRADER.with_name("python")), "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() == "True"


def test_without_isolation_a_shared_output_folder_is_refused(
    grader: Runner, tmp_path: Path, no_bwrap: dict[str, str]
) -> None:
    if fallback_has_own_uid(no_bwrap):
        pytest.skip("here a fallback worker gets a uid of its own: the folder is made private")
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("alice.py", "bob.py"):
        shutil.copy(SUBMISSIONS / "typical.py", subs / name)
    out = tmp_path / "out"
    run = grader("grade", str(subs), "-a", "transformer_lm", "--out", str(out), env=no_bwrap)
    assert run.returncode == 2
    assert "could read the other results" in run.stderr and "bubblewrap" in run.stderr
    assert not list(out.glob("*/result.json"))
    # One submission at a time is no better when the folder already holds another's result.
    (out / "carol").mkdir()
    (out / "carol" / "result.json").write_text("{}")
    alone = grader("grade", str(subs / "bob.py"), "-a", "transformer_lm", "--out", str(out), env=no_bwrap)  # fmt: skip
    assert alone.returncode == 2 and "could read the other results" in alone.stderr


PROBE = """import os

import torch


def attention(query, key, value, mask=None, dropout=None):
    try:
        seen = os.listdir({out!r})
    except OSError:
        seen = None
    if seen is not None:
        raise RuntimeError(f"the output folder is readable: {{seen}}")
    scores = query @ key.transpose(-2, -1) / query.size(-1) ** 0.5
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value
"""


@pytest.mark.slow
def test_without_bubblewrap_the_output_folder_is_hidden_and_symlinks_skipped(
    grader: Runner, tmp_path: Path, no_bwrap: dict[str, str]
) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "probe.py").write_text(PROBE.format(out=str(out)))
    (subs / "model_answer.py").symlink_to(ROOT / "reference" / "attention.py")
    run = grader(
        "grade", str(subs), "-a", "transformer_lm", "--out", str(out), "--budget", "smoke",
        "--jobs", "1", env=no_bwrap,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "refused" in run.stderr and "model_answer.py" in run.stderr
    # The link is not followed: its folder holds a not-gradable result saying why, no grade.
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["model_answer", "probe"]
    refused = json.loads((out / "model_answer" / "result.json").read_text())
    assert refused["overall"] is None and "symbolic link" in json.dumps(refused)
    result = json.loads((out / "probe" / "result.json").read_text())
    assert result["environment"]["sandbox"]["isolation"] == "rlimits-only"
    assert result["tasks"]["attention"]["status"] == "pass"  # listing the folder failed
    assert f"os.listdir ({out.resolve()})" in " ".join(result["errors"])


# --- grading with a signing key -------------------------------------------------------------

KEY = "grading-key-" + "7c" * 20


def test_a_signing_key_is_refused_where_candidate_code_could_read_it(
    grader: Runner, tmp_path: Path, no_bwrap: dict[str, str]
) -> None:
    env = {**no_bwrap, "GRADER_SIGNING_KEY": KEY}
    run = grader("grade", str(SUBMISSIONS / "typical.py"), "-a", "transformer_lm", "--out", str(tmp_path / "o"), env=env)  # fmt: skip
    assert run.returncode == 2
    assert "could read it" in run.stderr and "grader sign" in run.stderr
    assert KEY not in run.stderr + run.stdout and not (tmp_path / "o").exists()


@pytest.mark.slow
@pytest.mark.sandbox
def test_grading_with_a_key_under_bubblewrap_signs_the_results(
    grader: Runner, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env["GRADER_SIGNING_KEY"] = KEY
    out = tmp_path / "out"
    run = grader(
        "grade", str(SUBMISSIONS / "typical.py"), "-a", "transformer_lm", "--out", str(out),
        "--budget", "smoke", env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "signed 1 result(s)" in run.stdout
    verify = grader("verify", str(out), env=env)
    assert verify.returncode == 0 and "2 of 2 file(s) verified" in verify.stdout, verify.stdout
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in run.stdout + run.stderr
