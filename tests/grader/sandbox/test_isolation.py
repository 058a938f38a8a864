"""What the worker's world looks like from inside, for bwrap and for the loud fallback."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from grader.sandbox import CandidateError, WorkerTimeout
from grader.sandbox.isolation import (
    PROJECT_ROOT,
    TEMPDIR_PREFIX,
    UID_RANGE,
    plan_launch,
    processes_of_uid,
)

from .conftest import TEST_LIMITS, SandboxFactory, attack_source

pytestmark = pytest.mark.sandbox

PROBE = """
import os
import resource
import sys


def probe():
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    interfaces = [line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]]
    names = ["RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE"]
    return {
        "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
        "groups": os.getgroups(),
        "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
        "no_new_privs": status["NoNewPrivs"].strip(),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "interfaces": interfaces,
        "root": sorted(os.listdir("/")),
        "work": sorted(os.listdir("/work/main")) if os.path.isdir("/work/main") else None,
        "cwd": os.getcwd(),
        "limits": {name: resource.getrlimit(getattr(resource, name))[0] for name in names},
        "environ": dict(os.environ),
        "worker_files_writable": os.access("/worker/worker.py", os.W_OK),
        "sys_path": sys.path,
    }
"""


def test_the_worker_runs_unprivileged_in_its_own_namespaces(open_sandbox: SandboxFactory) -> None:
    sandbox = open_sandbox()
    assert sandbox.info.isolation == "bwrap" and sandbox.info.network_isolated
    assert sandbox.info.notes == ()
    sandbox.load(PROBE)
    seen = sandbox.call("probe")
    uid = sandbox.info.uid
    assert uid in UID_RANGE and seen["ids"] == [uid, uid, uid, uid] and seen["groups"] == []
    assert seen["caps"] == ["0000000000000000"] * 5 and seen["no_new_privs"] == "1"
    assert seen["pids"] == [1, 2]  # bwrap's init and the worker: nothing of the host
    assert seen["interfaces"] == ["lo"]  # a network namespace of its own, loopback only


def test_the_worker_sees_only_the_environment_it_needs(open_sandbox: SandboxFactory) -> None:
    sandbox = open_sandbox()
    sandbox.load(PROBE)
    seen = sandbox.call("probe")
    # The venv and the interpreter's prefix are bound at their own paths, so their first
    # component (/work here, /check or /home elsewhere) is the only extra top-level folder.
    bound = {Path(p).resolve().parts[1] for p in (sys.prefix, sys.base_prefix)}
    system = {"bin", "dev", "etc", "lib", "lib64", "proc", "root", "sbin", "scratch", "tmp", "usr"}
    assert set(seen["root"]) <= system | {"worker"} | bound
    assert "worker" in seen["root"] and "scratch" in seen["root"]
    if PROJECT_ROOT == Path("/work/main"):
        assert seen["work"] == [".venv"]  # the project's folders are not there at all
    assert seen["cwd"] == "/scratch" and not seen["worker_files_writable"]
    assert not any(str(PROJECT_ROOT) == entry for entry in seen["sys_path"])


def test_rlimits_and_a_scrubbed_environment(
    open_sandbox: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_API_TOKEN", "secret-token")
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    sandbox = open_sandbox()
    sandbox.load(PROBE)
    seen = sandbox.call("probe")
    assert seen["limits"] == {
        "RLIMIT_CPU": TEST_LIMITS.cpu_seconds,
        "RLIMIT_AS": TEST_LIMITS.memory_bytes,
        "RLIMIT_NPROC": TEST_LIMITS.max_processes,
        "RLIMIT_FSIZE": TEST_LIMITS.file_size_bytes,
        "RLIMIT_NOFILE": TEST_LIMITS.open_files,
        "RLIMIT_CORE": 0,
    }
    assert set(seen["environ"]) == {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MPLBACKEND",
        "PWD",  # set by bwrap's --chdir
    }
    assert seen["environ"]["HOME"] == "/scratch" and seen["environ"]["OMP_NUM_THREADS"] == "1"


def test_concurrent_workers_get_distinct_uids(open_sandbox: SandboxFactory) -> None:
    first, second = open_sandbox(), open_sandbox()
    assert first.info.uid != second.info.uid
    assert processes_of_uid(first.info.uid) and processes_of_uid(second.info.uid)
    uid = first.info.uid
    first.close()
    assert processes_of_uid(uid) == []  # closing leaves nothing behind


GRADER_SCRIPT = """
import sys
from grader.config import SandboxLimits
from grader.sandbox import Sandbox

w = Sandbox(SandboxLimits(), isolation=sys.argv[1])
w.start()
w.load("def spin():\\n    while True:\\n        pass\\n")
print(w.ready["pid"], w.info.uid, flush=True)
w.call("spin", _timeout=600)
"""


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ["bwrap", "rlimits-only"])
def test_nothing_of_a_submission_survives_the_grader(
    isolation: str, request: pytest.FixtureRequest
) -> None:
    if isolation == "bwrap":
        request.getfixturevalue("bwrap_ready")
    grader = subprocess.Popen(
        [sys.executable, "-c", GRADER_SCRIPT, isolation],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pid, uid = grader.stdout.readline().split()  # type: ignore[union-attr]
        alive = (
            (lambda: processes_of_uid(int(uid))) if uid != "None" else (lambda: _exists(int(pid)))
        )
        assert alive(), "the worker should be running while the grader waits on it"
    finally:
        grader.send_signal(signal.SIGKILL)  # no atexit, no finalizer: only the kernel's ties
        grader.wait()
    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive()
    if isolation == "rlimits-only":
        orphans = list(Path(tempfile.gettempdir()).glob(f"{TEMPDIR_PREFIX}{grader.pid}-*"))
        assert orphans  # the killed grader could not remove its worker's folder ...
        plan_launch(TEST_LIMITS, "cpu", 0, "rlimits-only").release()
        assert not any(folder.exists() for folder in orphans)  # ... the next fallback did


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


# --- the fallback -------------------------------------------------------------------------


def test_the_fallback_says_so_loudly_and_still_contains_the_basics(
    open_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = open_sandbox(isolation="rlimits-only", hidden_paths=(str(tmp_path),))
    info = sandbox.info
    assert info.isolation == "rlimits-only" and not info.network_isolated
    assert info.notes and info.notes[0].startswith("NOT SANDBOXED")
    report = sandbox.load(attack_source("read_reference"))
    assert report.ok, report.error
    project_file = str(PROJECT_ROOT / "grader" / "config.py")
    seen = sandbox.call("attack", [project_file, str(PROJECT_ROOT), str(tmp_path)])
    # Not found, or (with the project installed editable) found and refused by the hook.
    for module in ("reference", "reference.attention", "grader", "grader.checks"):
        assert seen[f"import {module}"] in ("ModuleNotFoundError", "PermissionError"), module
    assert seen[project_file] == seen[str(PROJECT_ROOT)] == seen[str(tmp_path)] == "PermissionError"
    assert any("config.py" in event for event in sandbox.audit_events)
    assert torch.equal(sandbox.run("echo", torch.arange(4))[0], torch.arange(4))


def test_the_fallback_refuses_sockets_and_kills_on_timeout(open_sandbox: SandboxFactory) -> None:
    sandbox = open_sandbox(isolation="rlimits-only")
    sandbox.load(
        attack_source("socket_connect") + "\n\nimport time\n\n\ndef nap():\n    time.sleep(600)\n"
    )
    with pytest.raises(CandidateError, match="network access is not allowed") as caught:
        sandbox.call("attack", 9)
    assert caught.value.type == "PermissionError"
    assert caught.value.audit_events == ("socket.getaddrinfo (127.0.0.1)",)
    pid = sandbox.ready["pid"]
    with pytest.raises(WorkerTimeout):
        sandbox.call("nap", _timeout=1.0)
    assert not _exists(pid)
