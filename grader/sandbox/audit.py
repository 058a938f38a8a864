"""The worker's audit hook: refuse what a submission has no reason to do, and say so.

This runs inside the worker (bound read-only into the sandbox next to ``worker.py``) and
imports nothing from ``grader``. It is defence in depth: the sandbox (namespaces, an
unprivileged uid, rlimits) is what contains a submission; the hook turns the common attempts
into a clear ``PermissionError`` in the candidate's code and a line in the report
("refused: socket.__new__ (AF_INET)"), instead of a silent failure deep in the kernel.

Refused once the hook is installed (after torch is imported, before candidate code runs):
  - sockets of any family (there is no network to reach, and no reason to try);
  - new processes and programs: fork, exec, spawn, subprocess, os.system, pty;
  - signals to any process but the worker itself;
  - writes outside the scratch directory: open for writing, os.open with write flags,
    remove, rename, mkdir, chmod, ... (paths are resolved, symlinks included);
  - ctypes loading a library by path from outside the trusted read-only prefixes
    (so a shared object the submission wrote into scratch cannot be loaded; libraries
    named without a path come from the system's own search path and are allowed);
  - in the rlimits-only fallback, reads of the hidden paths (the project, the output folder).

A Python audit hook cannot be removed once added, so the candidate cannot undo this.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

ENVIRONMENT_NOISE = frozenset({("subprocess.Popen", "fc-list")})
"""Refusals caused by the environment's own libraries, refused like any other but not
reported: matplotlib runs ``fc-list`` once to find fonts when it builds its font cache (in
the scratch folder, at the candidate's first ``import matplotlib``), and goes on without it;
reported, it would blame every submission that plots."""
MAX_EVENTS = 200
"""Refusals kept for the report; later ones are only counted."""
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class AuditGuard:
    """A callable for ``sys.addaudithook`` that refuses and records."""

    def __init__(
        self,
        scratch: str,
        trusted_roots: tuple[str, ...],
        hidden_roots: tuple[str, ...] = (),
    ) -> None:
        self.scratch = os.path.realpath(scratch)
        self.trusted_roots = tuple(os.path.realpath(r) for r in trusted_roots)
        self.hidden_roots = tuple(os.path.realpath(r) for r in hidden_roots)
        self.events: list[str] = []
        self.dropped = 0
        self._inside = threading.local()
        # (path argument positions, dir_fd position) for calls that change the file system.
        self._writes: dict[str, tuple[tuple[int, ...], int | None]] = {
            "os.remove": ((0,), 1),
            "os.rmdir": ((0,), 1),
            "os.mkdir": ((0,), 2),
            "os.chmod": ((0,), 2),
            "os.chown": ((0,), 3),
            "os.utime": ((0,), 3),
            "os.truncate": ((0,), None),
            "os.rename": ((0, 1), 2),
            "os.link": ((1,), 3),
            "os.symlink": ((1,), 2),
            "os.setxattr": ((0,), None),
            "os.removexattr": ((0,), None),
            "sqlite3.connect": ((0,), None),
        }
        self._handlers: dict[str, Callable[[str, tuple[Any, ...]], None]] = {
            "open": self._open,
            "os.kill": self._kill,
            "os.killpg": self._kill,
            "ctypes.dlopen": self._dlopen,
            "os.listdir": self._read_dir,
            "os.scandir": self._read_dir,
        }
        for event in ("socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo"):
            self._handlers[event] = self._network
        for event in (
            "subprocess.Popen",
            "os.system",
            "os.exec",
            "os.spawn",
            "os.posix_spawn",
            "os.fork",
            "os.forkpty",
            "pty.spawn",
        ):
            self._handlers[event] = self._process
        for event in self._writes:
            self._handlers[event] = self._write_call

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        handler = self._handlers.get(event)
        # The guard's own path resolution must not re-enter it.
        if handler is None or getattr(self._inside, "active", False):
            return
        self._inside.active = True
        try:
            handler(event, args)
        finally:
            self._inside.active = False

    def take_events(self) -> tuple[list[str], int]:
        """The refusals since the last call, and how many more were dropped."""
        events, dropped = self.events, self.dropped
        self.events, self.dropped = [], 0
        return events, dropped

    # --- the rules ----------------------------------------------------------------------

    def _network(self, event: str, args: tuple[Any, ...]) -> None:
        detail = ""
        if event == "socket.__new__" and len(args) > 1:
            detail = _family_name(args[1])
        elif event == "socket.getaddrinfo" and args:
            detail = str(args[0])  # the host name it wanted to resolve
        elif event in ("socket.connect", "socket.bind") and len(args) > 1:
            detail = str(args[1])
        self._refuse(event, detail, "network access is not allowed")

    def _process(self, event: str, args: tuple[Any, ...]) -> None:
        detail = str(args[0]) if args and event != "os.fork" else ""
        self._refuse(event, detail, "starting processes is not allowed")

    def _kill(self, event: str, args: tuple[Any, ...]) -> None:
        pid, sig = args[0], args[1]
        # Signalling itself (or its own process group, pid 0) is harmless; signal 0 only
        # tests existence.
        if pid in (0, os.getpid()) or sig == 0:
            return
        self._refuse(event, f"pid {pid}, signal {sig}", "signalling other processes is not allowed")

    def _open(self, event: str, args: tuple[Any, ...]) -> None:
        path, _mode, flags = args[0], args[1], args[2]
        if isinstance(path, int):  # an fd that is already open
            return
        writes = isinstance(flags, int) and flags & WRITE_FLAGS
        if writes and not self._inside_scratch(path, None):
            reason = "writing outside the scratch directory is not allowed"
            self._refuse("open", _shown(path, None), reason)
        elif self.hidden_roots and self._hidden(path):
            self._refuse("open", str(path), "this path is hidden from submissions")

    def _write_call(self, event: str, args: tuple[Any, ...]) -> None:
        positions, dir_fd_at = self._writes[event]
        dir_fd = args[dir_fd_at] if dir_fd_at is not None and dir_fd_at < len(args) else None
        for i in positions:
            path = args[i] if i < len(args) else None
            if event == "sqlite3.connect" and path in (":memory:", b":memory:", ""):
                continue
            is_path = path is not None and not isinstance(path, int)
            if is_path and not self._inside_scratch(path, dir_fd):
                reason = "changing files outside the scratch directory is not allowed"
                self._refuse(event, _shown(path, dir_fd), reason)

    def _read_dir(self, event: str, args: tuple[Any, ...]) -> None:
        path = args[0] if args else "."
        if self.hidden_roots and not isinstance(path, int) and self._hidden(path):
            self._refuse(event, str(path), "this path is hidden from submissions")

    def _dlopen(self, event: str, args: tuple[Any, ...]) -> None:
        name = args[0] if args else None
        if name is None:
            return  # the already loaded program itself
        text = os.fsdecode(name)
        if "/" not in text:
            return  # looked up on the system's own library path (read-only, trusted)
        real = os.path.realpath(text)
        if not any(_under(real, root) for root in self.trusted_roots):
            self._refuse(
                event, text, "loading a library from outside the environment is not allowed"
            )

    # --- helpers ------------------------------------------------------------------------

    def _refuse(self, event: str, detail: str, reason: str) -> None:
        line = f"{event} ({detail[:160]})" if detail else event
        if _bytecode_cache(detail):
            pass  # every import tries to cache bytecode next to the (read-only) library: noise
        elif (event, detail) in ENVIRONMENT_NOISE:
            pass  # a library of the candidate's environment probing, not the candidate
        elif len(self.events) < MAX_EVENTS:
            self.events.append(line)
        else:
            self.dropped += 1
        raise PermissionError(f"sandbox: {reason}: {line}")

    def _inside_scratch(self, path: Any, dir_fd: Any) -> bool:
        return _under(_resolve(path, dir_fd), self.scratch)

    def _hidden(self, path: Any) -> bool:
        # The environment may live inside a hidden folder (a project's .venv): it stays readable.
        real = _resolve(path, None)
        if any(_under(real, root) for root in self.trusted_roots):
            return False
        return any(_under(real, root) for root in self.hidden_roots)


def _bytecode_cache(path: str) -> bool:
    """A ``__pycache__`` folder or a file in one: what Python's import system writes (and,
    refused, goes on without). Refused like any write, but not reported."""
    return path.rstrip("/").endswith("/__pycache__") or "/__pycache__/" in path


def _resolve(path: Any, dir_fd: Any) -> str:
    """The real absolute path ``path`` names (relative to ``dir_fd`` when one is given)."""
    text = os.fsdecode(os.fspath(path))
    if not os.path.isabs(text) and isinstance(dir_fd, int) and dir_fd >= 0:
        text = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), text)
    return os.path.realpath(text)


def _shown(path: Any, dir_fd: Any) -> str:
    """The path as the candidate wrote it, and where it really leads when that differs."""
    given, real = os.fsdecode(os.fspath(path)), _resolve(path, dir_fd)
    return given if given == real else f"{given} -> {real}"


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _family_name(family: Any) -> str:
    try:
        return socket.AddressFamily(family).name
    except ValueError:
        return str(family)


def install(guard: AuditGuard) -> None:
    """Add the hook for the rest of the process's life (it cannot be removed)."""
    sys.addaudithook(guard)
