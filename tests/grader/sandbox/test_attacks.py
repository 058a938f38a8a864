"""Every hostile submission of ``attacks/`` run through a real worker. Each test asserts the
outcome the grader reports and that nothing outside the worker changed: the grader's own
torch, its files, its network, its processes, and a bystander worker grading someone else
at the same time."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from grader.config import SandboxLimits
from grader.sandbox import (
    CandidateError,
    Handle,
    ProtocolViolation,
    Sandbox,
    WorkerCrashed,
    WorkerDead,
    WorkerTimeout,
)
from grader.sandbox.isolation import PROJECT_ROOT, processes_of_uid

from .conftest import TEST_LIMITS, attack_source

pytestmark = pytest.mark.sandbox

LoadAttack = Callable[..., tuple[Sandbox, Any]]

ORIGINALS = (
    torch.allclose,
    torch.equal,
    torch.testing.assert_close,
    F.softmax,
    torch.Tensor.__eq__,
)
"""The grader's own comparison functions, captured before any worker ran."""

BYSTANDER = """
import torch


def attention(query, key, value, mask=None, dropout=None):
    weights = torch.softmax(query @ key.transpose(-2, -1) / query.size(-1) ** 0.5, dim=-1)
    return weights @ value
"""


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.softmax(q @ k.transpose(-2, -1) / q.size(-1) ** 0.5, dim=-1) @ v


@pytest.fixture(scope="module")
def bystander(bwrap_ready: None) -> Iterator[Sandbox]:
    """An honest submission graded alongside every attack: it must never notice them."""
    sandbox = Sandbox(TEST_LIMITS, label="bystander", isolation="bwrap")
    sandbox.start()
    assert sandbox.load(BYSTANDER).ok
    yield sandbox
    sandbox.close()


def assert_unharmed(bystander: Sandbox) -> None:
    """The bystander still computes the right answer, and the grader's torch is its own."""
    q = torch.randn(2, 2, 5, 8, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(
        bystander.call("attention", q, q, q), reference_attention(q, q, q), atol=1e-6
    )
    assert (
        torch.allclose,
        torch.equal,
        torch.testing.assert_close,
        F.softmax,
        torch.Tensor.__eq__,
    ) == ORIGINALS
    assert not torch.allclose(torch.zeros(2), torch.ones(2))


def assert_no_process_left(uid: int | None) -> None:
    assert uid is not None and processes_of_uid(uid) == []


# --- exits and crashes --------------------------------------------------------------------


def test_sys_exit_at_import_is_an_error_and_the_worker_lives(load_attack: LoadAttack) -> None:
    sandbox, report = load_attack("exit_at_import")
    assert not report.ok and isinstance(report.error, CandidateError)
    assert report.error.type == "SystemExit"
    assert report.error.summary() == "error: SystemExit: the submission called sys.exit(0)"
    sandbox.ping()


def test_sys_exit_in_a_call_is_an_error_not_a_pass(load_attack: LoadAttack) -> None:
    sandbox, _ = load_attack("exit_in_call")
    with pytest.raises(CandidateError, match=r"called sys.exit\(0\)"):
        sandbox.call("attack")
    sandbox.ping()


@pytest.mark.slow  # two worker starts
def test_os_exit_is_a_crash_not_a_pass(load_attack: LoadAttack, bystander: Sandbox) -> None:
    sandbox, _ = load_attack("os_exit")
    with pytest.raises(WorkerCrashed) as caught:
        sandbox.call("attack")
    assert caught.value.returncode == 0 and caught.value.signal is None
    assert caught.value.summary() == "error: exited with status 0 during a call (sys.exit/os._exit)"
    with pytest.raises(WorkerDead, match="restart"):
        sandbox.ping()
    assert_no_process_left(sandbox.info.uid)
    report = sandbox.restart()
    assert report is not None and report.ok
    sandbox.ping()
    assert_unharmed(bystander)


def test_segfault_is_reported_by_its_signal(load_attack: LoadAttack, bystander: Sandbox) -> None:
    sandbox, _ = load_attack("segfault")
    with pytest.raises(WorkerCrashed) as caught:
        sandbox.call("attack")
    assert caught.value.signal == "SIGSEGV"
    assert caught.value.summary() == "error: killed by SIGSEGV (segmentation fault) during a call"
    assert_no_process_left(sandbox.info.uid)
    assert_unharmed(bystander)


# --- time ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_infinite_loop_at_import_is_killed(load_attack: LoadAttack) -> None:
    sandbox, report = load_attack("loop_at_import", load_timeout=2.0)
    assert isinstance(report.error, WorkerTimeout) and not report.ok
    assert report.error.summary() == "error: killed after 2 s during a call (wall-clock limit)"
    assert_no_process_left(sandbox.info.uid)


@pytest.mark.slow
@pytest.mark.parametrize("attack", ["loop_in_call", "sleep_forever"])
def test_a_call_that_never_returns_is_killed(
    load_attack: LoadAttack, bystander: Sandbox, attack: str
) -> None:
    sandbox, _ = load_attack(attack)
    started = time.monotonic()
    with pytest.raises(WorkerTimeout, match="killed after 2 s"):
        sandbox.call("attack", _timeout=2.0)
    assert time.monotonic() - started < 6
    assert_no_process_left(sandbox.info.uid)
    assert_unharmed(bystander)


@pytest.mark.slow
def test_the_cpu_limit_stops_a_busy_loop_before_the_wall_clock(load_attack: LoadAttack) -> None:
    # Start-up (torch's import) takes a few CPU seconds of the budget; the loop takes the rest.
    limits = SandboxLimits(cpu_seconds=6, call_timeout_s=120, startup_timeout_s=60)
    sandbox, _ = load_attack("loop_in_call", limits)
    with pytest.raises(WorkerCrashed) as caught:
        sandbox.call("attack")
    assert caught.value.signal == "SIGXCPU"
    assert "CPU time limit reached" in caught.value.message


# --- memory, processes, disk --------------------------------------------------------------


def test_allocating_50_gb_is_a_memory_error(load_attack: LoadAttack, bystander: Sandbox) -> None:
    sandbox, _ = load_attack("allocate_50gb")
    for function in ("attack_python", "attack_torch"):
        with pytest.raises(CandidateError) as caught:
            sandbox.call(function)
        assert caught.value.type == "MemoryError"
    sandbox.ping()  # the refused allocation left the worker usable
    assert_unharmed(bystander)


def test_os_fork_bomb_is_refused_at_the_first_fork(load_attack: LoadAttack) -> None:
    sandbox, _ = load_attack("fork_bomb")
    with pytest.raises(CandidateError, match="starting processes is not allowed") as caught:
        sandbox.call("attack")
    assert caught.value.type == "PermissionError" and caught.value.audit_events == ("os.fork",)
    assert len(processes_of_uid(sandbox.info.uid)) == 1  # the worker alone


def test_subprocess_and_os_system_are_refused(load_attack: LoadAttack) -> None:
    sandbox, _ = load_attack("fork_bomb_subprocess")
    popen, system = sandbox.call("attack")
    assert "starting processes is not allowed: subprocess.Popen" in popen
    assert "starting processes is not allowed: os.system" in system
    assert sandbox.audit_events[-2:] == [
        "subprocess.Popen (/bin/sh)",
        "os.system (b':(){ :|:& };:')",
    ]
    assert len(processes_of_uid(sandbox.info.uid)) == 1


@pytest.mark.slow
def test_a_native_fork_bomb_is_bounded_by_its_own_uid(
    load_attack: LoadAttack, bystander: Sandbox
) -> None:
    limits = SandboxLimits(max_processes=12, call_timeout_s=20, startup_timeout_s=60)
    sandbox, _ = load_attack("fork_bomb_native", limits)
    uid = sandbox.info.uid
    outcome: dict[str, BaseException] = {}

    def detonate() -> None:
        try:
            sandbox.call("attack", _timeout=4.0)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = exc

    thread = threading.Thread(target=detonate)
    thread.start()
    time.sleep(1.5)
    peak = len(processes_of_uid(uid))
    assert_unharmed(bystander)  # graded while the bomb goes off, under another uid
    thread.join()
    assert isinstance(outcome["error"], WorkerTimeout)
    assert 1 < peak <= limits.max_processes
    assert_no_process_left(uid)


def test_a_file_over_the_size_limit_cannot_be_written(load_attack: LoadAttack) -> None:
    limits = SandboxLimits(file_size_bytes=1024**2, call_timeout_s=20, startup_timeout_s=60)
    sandbox, _ = load_attack("fill_disk", limits)
    with pytest.raises(CandidateError) as caught:
        sandbox.call("attack", 4)
    assert caught.value.type == "OSError" and os.strerror(errno.EFBIG) in caught.value.message
    sandbox.ping()


# --- network ------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server on the grader's loopback that must never see a connection."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.5)
    yield server
    server.close()


def assert_no_connection(server: socket.socket) -> None:
    with pytest.raises(TimeoutError):
        server.accept()


def test_a_socket_to_the_host_is_refused(load_attack: LoadAttack, listener: socket.socket) -> None:
    sandbox, _ = load_attack("socket_connect")
    with pytest.raises(CandidateError, match="network access is not allowed") as caught:
        sandbox.call("attack", listener.getsockname()[1])
    assert caught.value.audit_events == ("socket.getaddrinfo (127.0.0.1)",)
    assert_no_connection(listener)


def test_a_native_socket_finds_no_network(load_attack: LoadAttack, listener: socket.socket) -> None:
    sandbox, _ = load_attack("socket_native")
    result = sandbox.call("attack", listener.getsockname()[1])
    # The hook never saw it; in its own network namespace, 127.0.0.1 is the sandbox's own
    # loopback, where nothing listens.
    assert result["connect"] == -1 and result["errno"] == errno.ECONNREFUSED
    assert sandbox.audit_events == []
    assert_no_connection(listener)


# --- files of the grader ------------------------------------------------------------------


def test_reference_grader_and_tests_are_not_there(load_attack: LoadAttack) -> None:
    sandbox, _ = load_attack("read_reference")
    seeds = PROJECT_ROOT.parent / "shared" / "seeds"
    paths = [
        str(PROJECT_ROOT / "reference" / "attention.py"),
        str(PROJECT_ROOT / "grader" / "config.py"),
        str(Path(__file__)),
        str(PROJECT_ROOT / "reference"),
        str(seeds),
    ]
    outcomes = sandbox.call("attack", paths)
    for module in ("reference", "reference.attention", "grader", "grader.checks"):
        assert outcomes[f"import {module}"] == "ModuleNotFoundError"
    for path in paths:
        assert outcomes[path] == "FileNotFoundError", path


def test_the_output_folder_stays_empty(load_attack: LoadAttack, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    sandbox, _ = load_attack("write_output")
    outcomes = sandbox.call("attack", str(out))
    assert set(outcomes) == {"open", "os.open", "pathlib", "mkdir", "symlink", "copy"}
    # The folder does not exist in the sandbox (/tmp there is the worker's own scratch), or,
    # when the project itself lives under /tmp, /tmp is a read-only folder of bwrap's making.
    assert set(outcomes.values()) <= {"FileNotFoundError", "PermissionError"}
    assert list(out.iterdir()) == []


def test_writes_outside_scratch_are_refused_by_the_hook_too(load_attack: LoadAttack) -> None:
    # A folder whose parents exist in the sandbox: the hook, not a missing path, refuses.
    target = PROJECT_ROOT / "reference"
    before = sorted(os.listdir(target))
    sandbox, _ = load_attack("write_output")
    outcomes = sandbox.call("attack", str(target))
    assert set(outcomes.values()) == {"PermissionError"}
    assert sorted(os.listdir(target)) == before
    assert len([e for e in sandbox.audit_events if str(target) in e]) == 6


# --- verdicts -----------------------------------------------------------------------------


def test_monkeypatching_torch_changes_only_the_worker(
    load_attack: LoadAttack, bystander: Sandbox
) -> None:
    sandbox, report = load_attack("monkeypatch_torch")
    assert report.ok
    q = torch.randn(1, 2, 4, 8, generator=torch.Generator().manual_seed(0))
    # Inside the worker the rigged comparison says "equal" ...
    assert sandbox.call("worker_allclose", torch.zeros(3), torch.ones(3)) is True
    # ... but the verdict is computed here, on the values that came out.
    out = sandbox.call("attention", q, q, q)
    assert not torch.allclose(out, reference_attention(q, q, q), atol=1e-4)
    assert_unharmed(bystander)


def test_fake_frames_on_stdout_are_just_output(load_attack: LoadAttack) -> None:
    sandbox, _ = load_attack("fake_protocol_stdout")
    assert sandbox.call("attack") == "honest"
    assert sandbox.call("forged_frame", 1)[:4] == b"GRW1"  # bytes come back as bytes
    assert sandbox.output_tail().stdout.count("GRW1") == 199


@pytest.mark.slow  # two worker starts
def test_garbage_on_the_protocol_pipe_kills_the_worker(
    load_attack: LoadAttack, bystander: Sandbox
) -> None:
    sandbox, _ = load_attack("garbage_protocol_fd")
    with pytest.raises(ProtocolViolation, match="not a frame"):
        sandbox.call("attack_garbage")
    assert_no_process_left(sandbox.info.uid)
    sandbox.restart()
    started = time.monotonic()
    with pytest.raises(ProtocolViolation, match="1024.0 GB is over the 512.0 MB limit"):
        sandbox.call("attack_huge_header")
    assert time.monotonic() - started < 5  # refused from the prefix, nothing allocated
    assert_unharmed(bystander)


def test_a_crafted_pickle_comes_back_as_inert_bytes(
    load_attack: LoadAttack, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    sandbox, _ = load_attack("crafted_pickle")
    data = sandbox.call("attack_bytes", str(marker))
    assert type(data) is bytes and data[:1] == b"\x80" and b"open" in data
    obj = sandbox.call("attack_object", str(marker))
    assert isinstance(obj, Handle) and obj.type_name == "Payload"
    assert not marker.exists()  # nothing was unpickled, here or anywhere


@pytest.mark.slow  # two worker starts
def test_an_oversize_answer_is_refused_by_its_size(load_attack: LoadAttack) -> None:
    limits = SandboxLimits(max_message_bytes=8 * 1024**2, call_timeout_s=20, startup_timeout_s=60)
    sandbox, _ = load_attack("absurd_tensor", limits)
    with pytest.raises(ProtocolViolation, match="message of 64.0 MB is over the 8.0 MB limit"):
        sandbox.call("attack", 64)
    sandbox.restart()
    assert sandbox.call("attack", 1).numel() == 1024**2


def test_raising_in_del_and_repr_is_harmless(load_attack: LoadAttack) -> None:
    sandbox, _ = load_attack("raise_in_del")
    grenade = sandbox.call("attack")
    assert isinstance(grenade, Handle) and grenade.repr == "<Grenade, repr failed: RuntimeError>"
    sandbox.release(grenade)
    sandbox.ping()
    assert "boom from __del__" in sandbox.output_tail().stderr


def test_values_that_equal_everything_come_back_as_handles(load_attack: LoadAttack) -> None:
    sandbox, _ = load_attack("eq_always_true")
    chameleon = sandbox.call("attack_object")
    sly = sandbox.call("attack_float")
    nested = sandbox.call("attack_nested")
    for handle in (chameleon, sly, nested["loss"], nested["ok"][0]):
        assert isinstance(handle, Handle)
        assert handle != 0.0 and handle != "anything" and handle != Handle(-1, "x", "x")
    assert sly.type_name == "SlyFloat" and not isinstance(sly, float)


def test_flooding_output_is_capped(load_attack: LoadAttack) -> None:
    limits = SandboxLimits(max_output_bytes=64 * 1024, call_timeout_s=60, startup_timeout_s=60)
    sandbox, _ = load_attack("flood_stdout", limits)
    assert sandbox.call("attack", 16) == "done"
    tail = sandbox.output_tail()
    assert len(tail.stdout) < 70_000 and len(tail.stderr) < 70_000
    assert tail.dropped_bytes >= 32 * 1024**2 - 2 * 64 * 1024
    assert "bytes of output dropped" in tail.stdout
    sandbox.ping()


def test_the_environment_holds_no_secrets(
    load_attack: LoadAttack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "do-not-leak")
    sandbox, _ = load_attack("read_environment")
    seen = sandbox.call("attack")
    assert "GRADER_SECRET_TOKEN" not in seen["environ"]
    assert "do-not-leak" not in repr(seen)
    assert seen["uid"] == seen["gid"] == sandbox.info.uid and seen["groups"] == []


def test_the_grader_cannot_be_signalled(load_attack: LoadAttack, bystander: Sandbox) -> None:
    sandbox, _ = load_attack("signal_parent")
    outcomes = sandbox.call("attack", os.getpid())
    assert outcomes["grader"] == outcomes["parent"] == "PermissionError"
    # libc's kill() bypasses the hook, but the grader's pid does not exist in the namespace.
    assert outcomes["libc"] == -1 and outcomes["libc_errno"] == errno.ESRCH
    assert_unharmed(bystander)


def test_the_corpus_is_complete() -> None:
    """Every attack file is exercised by a test of this module."""
    source = Path(__file__).read_text(encoding="utf-8")
    names = sorted(p.stem for p in (Path(__file__).parent / "attacks").glob("*.py"))
    assert len(names) >= 15
    assert [n for n in names if f'"{n}"' not in source] == []
    assert attack_source("os_exit").startswith("# ruff: noqa")
