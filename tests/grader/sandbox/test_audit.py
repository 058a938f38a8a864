"""The audit hook's rules, called directly (installing a hook in the test process would be
permanent): what it refuses, what it lets through, and what it records."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from grader.sandbox.audit import MAX_EVENTS, AuditGuard


@pytest.fixture
def guard(tmp_path: Path) -> AuditGuard:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hidden = tmp_path / "project"
    (hidden / ".venv").mkdir(parents=True)
    return AuditGuard(
        scratch=str(scratch),
        trusted_roots=(str(hidden / ".venv"), "/usr"),
        hidden_roots=(str(hidden),),
    )


def refused(guard: AuditGuard, event: str, *args: object) -> bool:
    try:
        guard(event, args)
    except PermissionError:
        return True
    return False


def test_writes_inside_scratch_are_allowed_and_outside_refused(guard: AuditGuard) -> None:
    inside = os.path.join(guard.scratch, "model.pt")
    write = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    assert not refused(guard, "open", inside, "w", write)
    assert not refused(guard, "open", "/etc/passwd", "r", os.O_RDONLY)
    assert refused(guard, "open", "/etc/passwd", "a", os.O_WRONLY | os.O_APPEND)
    assert refused(guard, "open", "/tmp/elsewhere", None, os.O_RDWR)  # os.open form
    assert not refused(guard, "open", 5, "w", write)  # an fd already open


def test_relative_paths_and_symlinks_are_resolved(guard: AuditGuard, tmp_path: Path) -> None:
    link = os.path.join(guard.scratch, "escape")
    os.symlink(tmp_path, link)
    assert refused(guard, "open", os.path.join(link, "out.txt"), "w", os.O_WRONLY | os.O_CREAT)
    previous = os.getcwd()
    os.chdir(guard.scratch)
    try:
        assert not refused(guard, "open", "relative.txt", "w", os.O_WRONLY | os.O_CREAT)
        assert refused(guard, "open", "../outside.txt", "w", os.O_WRONLY | os.O_CREAT)
    finally:
        os.chdir(previous)


def test_file_system_changes_outside_scratch_are_refused(guard: AuditGuard) -> None:
    inside = os.path.join(guard.scratch, "x")
    assert not refused(guard, "os.remove", inside, -1)
    assert refused(guard, "os.remove", "/etc/hosts", -1)
    assert refused(guard, "os.rename", inside, "/tmp/stolen", -1, -1)
    assert refused(guard, "os.mkdir", "/tmp/new", 0o777, -1)
    assert refused(guard, "os.symlink", "/etc", "/tmp/link", -1)
    assert not refused(guard, "os.symlink", "/etc", os.path.join(guard.scratch, "link"), -1)
    assert refused(guard, "sqlite3.connect", "/tmp/grades.db")
    assert not refused(guard, "sqlite3.connect", ":memory:")


def test_processes_and_sockets_are_refused(guard: AuditGuard) -> None:
    assert refused(guard, "os.fork")
    assert refused(guard, "subprocess.Popen", "/bin/sh", ["/bin/sh"], None, None)
    assert refused(guard, "os.system", b"ls")
    assert refused(guard, "os.exec", "/bin/sh", ["sh"], None)
    assert refused(guard, "socket.__new__", None, socket.AF_INET, socket.SOCK_STREAM, 0)
    assert refused(guard, "socket.__new__", None, socket.AF_UNIX, socket.SOCK_STREAM, 0)
    assert guard.take_events()[0][-2] == "socket.__new__ (AF_INET)"


def test_signals_only_to_itself(guard: AuditGuard) -> None:
    assert not refused(guard, "os.kill", os.getpid(), 15)
    assert not refused(guard, "os.kill", 1, 0)
    assert refused(guard, "os.kill", 1, 9)
    assert refused(guard, "os.killpg", 1234, 9)


def test_libraries_load_from_the_environment_only(guard: AuditGuard, tmp_path: Path) -> None:
    assert not refused(guard, "ctypes.dlopen", None)
    assert not refused(guard, "ctypes.dlopen", "libc.so.6")
    assert not refused(guard, "ctypes.dlopen", "/usr/lib/x86_64-linux-gnu/libm.so.6")
    assert refused(guard, "ctypes.dlopen", os.path.join(guard.scratch, "evil.so"))


def test_hidden_paths_are_unreadable_but_the_environment_inside_them_is_not(
    guard: AuditGuard,
) -> None:
    project = guard.hidden_roots[0]
    assert refused(guard, "open", os.path.join(project, "reference", "attention.py"), "r", 0)
    assert refused(guard, "os.listdir", project)
    assert refused(guard, "os.scandir", os.path.join(project, "tests"))
    assert not refused(guard, "open", os.path.join(project, ".venv", "lib", "x.py"), "r", 0)


def test_refusals_are_recorded_once_each_and_capped(guard: AuditGuard) -> None:
    for _ in range(MAX_EVENTS + 7):
        refused(guard, "os.fork")
    events, dropped = guard.take_events()
    assert events[0] == "os.fork" and len(events) == MAX_EVENTS and dropped == 7
    assert guard.take_events() == ([], 0)


def test_unrelated_events_pass_untouched(guard: AuditGuard) -> None:
    assert not refused(guard, "import", "json", None, [], [], [])
    assert not refused(guard, "compile", b"x = 1", "<string>")
    assert guard.take_events() == ([], 0)


def test_bytecode_caches_are_refused_without_being_reported() -> None:
    """Every import tries to write a ``__pycache__`` next to the read-only libraries; listing
    those would bury what the candidate's own code tried (hundreds in a fresh environment)."""
    from grader.sandbox.audit import _bytecode_cache

    assert _bytecode_cache("/venv/lib/python3.11/site-packages/torchtext/__pycache__")
    assert _bytecode_cache("/venv/lib/python3.11/site-packages/idna/__pycache__/core.pyc")
    assert not _bytecode_cache("/work/main/PWNED")
    assert not _bytecode_cache("/worker/__pycache_not__")
