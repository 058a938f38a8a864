"""One running worker process, as the grader drives it: its pipes, deadlines and end.

Four pipes: requests in, replies out (dedicated fds, never stdin/stdout), and the
candidate's stdout and stderr, which are drained into capped buffers while the grader waits,
so a chatty submission can neither block nor flood it. Every wait has a deadline; every
frame from the worker is validated before it is read (see ``protocol.py``).

Ending a worker kills its whole tree: bubblewrap's process group (bwrap is pid 1's parent
in the worker's pid namespace, so every process inside dies with it), then any process left
with the worker's uid. A finalizer does the same if the grader forgets, or exits.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import subprocess
import time
import weakref

from grader.sandbox import protocol
from grader.sandbox.isolation import LaunchPlan, processes_of_uid
from grader.sandbox.output import CappedOutput

PIPE_BYTES = 1 << 20
"""Pipe capacity asked of the kernel: fewer wake-ups when a tensor crosses."""
READ_CHUNK = 1 << 16
DRAIN_LIMIT = 16 << 20
"""Output drained after a reply before the grader moves on (the rest waits for next time)."""


class Timeout(Exception):
    """The deadline passed."""


class Closed(Exception):
    """The worker closed its end of the protocol (it exited, or the candidate closed the fd)."""


class WorkerProcess:
    """Starts the worker of a `LaunchPlan` and exchanges frames with it."""

    def __init__(
        self, plan: LaunchPlan, max_message_bytes: int, stdout: CappedOutput, stderr: CappedOutput
    ) -> None:
        self.plan = plan
        self.max_bytes = max_message_bytes
        self.outputs = {"stdout": stdout, "stderr": stderr}
        request_r, self.request_w = os.pipe()
        self.reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        config = dict(plan.config, request_fd=request_r, reply_fd=reply_w)
        try:
            self.proc = subprocess.Popen(
                [*plan.argv, json.dumps(config, separators=(",", ":"))],
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(request_r, reply_w),
                env=plan.env,
                cwd=plan.cwd,
                start_new_session=True,  # its own session and process group, killed as one
            )
        except BaseException:
            for fd in (self.request_w, self.reply_r, out_r, err_r):
                os.close(fd)
            plan.release()
            raise
        finally:
            for fd in (request_r, reply_w, out_w, err_w):
                os.close(fd)
        self.started = time.monotonic()
        self._finalizer = weakref.finalize(self, _kill_tree, self.proc, plan)
        for fd in (self.request_w, self.reply_r, out_r, err_r):
            os.set_blocking(fd, False)
        for fd in (self.request_w, self.reply_r):
            _try_grow_pipe(fd)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.reply_r, selectors.EVENT_READ, "reply")
        self.selector.register(out_r, selectors.EVENT_READ, "stdout")
        self.selector.register(err_r, selectors.EVENT_READ, "stderr")
        self._output_fds = {"stdout": out_r, "stderr": err_r}

    # --- exchanging frames --------------------------------------------------------------

    def exchange(
        self, chunks: list[memoryview], deadline: float
    ) -> tuple[protocol.Header, list[bytearray]]:
        """Send one frame and wait for the reply frame, draining output all the while.

        Raises `Timeout`, `Closed` or `protocol.ProtocolError`.
        """
        pending = [c.cast("B") for c in chunks if c.nbytes]
        if pending:
            self.selector.register(self.request_w, selectors.EVENT_WRITE, "request")
        reader = _FrameReader(self.max_bytes)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout()
                for key, _ in self.selector.select(remaining):
                    if key.data == "request":
                        pending = self._write_some(pending)
                    elif key.data == "reply":
                        if reader.read_from(self.reply_r):
                            self._drain_outputs()
                            return reader.result()
                    else:
                        self._read_output(key.data)
        finally:
            if self.request_w in self.selector.get_map():
                self.selector.unregister(self.request_w)

    def receive(self, deadline: float) -> tuple[protocol.Header, list[bytearray]]:
        """Wait for a frame the worker sends unasked (its "ready" message)."""
        return self.exchange([], deadline)

    def _write_some(self, pending: list[memoryview]) -> list[memoryview]:
        try:
            while pending:
                written = os.write(self.request_w, pending[0])
                pending[0] = pending[0][written:]
                if not pending[0].nbytes:
                    pending.pop(0)
        except BlockingIOError:
            return pending  # the pipe is full: wait until the worker reads
        except BrokenPipeError:
            raise Closed() from None
        self.selector.unregister(self.request_w)
        return pending

    def _read_output(self, name: str) -> bool:
        """Read what one output pipe holds; False once it is closed or empty."""
        fd = self._output_fds[name]
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return False
        if not data:
            self.selector.unregister(fd)
            os.close(fd)
            self._output_fds[name] = -1
            return False
        self.outputs[name].append(data)
        return True

    def _drain_outputs(self) -> None:
        """Take what the worker printed before its reply (it flushes before replying)."""
        for name in ("stdout", "stderr"):
            drained = 0
            while self._output_fds[name] >= 0 and drained < DRAIN_LIMIT and self._read_output(name):
                drained += READ_CHUNK

    # --- the end ------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_exit(self, seconds: float) -> int | None:
        """The exit status, waiting up to ``seconds`` for it (None if still running)."""
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kill the worker and everything it started; close the pipes; free the uid."""
        self._finalizer()
        if self.request_w < 0:
            return  # killed before
        self.selector.close()
        for fd in (self.request_w, self.reply_r, *self._output_fds.values()):
            if fd >= 0:
                os.close(fd)
        self.request_w = self.reply_r = -1
        self._output_fds = {"stdout": -1, "stderr": -1}


def _kill_tree(proc: subprocess.Popen[bytes], plan: LaunchPlan) -> None:
    """SIGKILL the worker's process group, wait for it, then anything left with its uid."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone
    proc.wait()
    if plan.lease is not None:
        # In the pid namespace the kernel kills the rest when bwrap's child dies, but not
        # instantly; in the fallback a fork could have left the process group. Sweep by uid
        # until none is left, so the uid is clean before it is leased again.
        deadline = time.monotonic() + 5.0
        while (pids := processes_of_uid(plan.lease.uid)) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
    plan.release()


def _try_grow_pipe(fd: int) -> None:
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass  # above the system's pipe-max-size: the default size works, only slower


class _FrameReader:
    """Reads one frame from a non-blocking fd in pieces: prefix, header, then each buffer,
    validating each part before allocating room for the next."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.header: protocol.Header | None = None
        self.buffers: list[bytearray] = []
        self._targets: list[bytearray] = [bytearray(protocol.PREFIX.size)]
        self._stage = "prefix"
        self._got = 0
        self._lengths: tuple[int, int] = (0, 0)

    def read_from(self, fd: int) -> bool:
        """Read what is available; True once the frame is complete."""
        while self._targets:
            target = self._targets[0]
            if self._got < len(target):
                try:
                    n = os.readv(fd, [memoryview(target)[self._got :]])
                except BlockingIOError:
                    return False
                if n == 0:
                    raise Closed()
                self._got += n
                if self._got < len(target):
                    continue
            self._targets.pop(0)
            self._got = 0
            self._advance(target)
        return True

    def _advance(self, filled: bytearray) -> None:
        if self._stage == "prefix":
            self._lengths = protocol.parse_prefix(bytes(filled), self.max_bytes)
            self._stage = "header"
            self._targets = [bytearray(self._lengths[1])]
        elif self._stage == "header":
            self.header = protocol.parse_header(bytes(filled), *self._lengths)
            self._stage = "buffers"
            self.buffers = [bytearray(d["nbytes"]) for d in self.header.descriptors]
            self._targets = list(self.buffers)

    def result(self) -> tuple[protocol.Header, list[bytearray]]:
        assert self.header is not None
        return self.header, self.buffers


SIGNAL_CAUSES = {
    "SIGSEGV": "segmentation fault",
    "SIGBUS": "bus error",
    "SIGABRT": "aborted",
    "SIGILL": "illegal instruction",
    "SIGFPE": "arithmetic fault",
    "SIGXCPU": "CPU time limit reached",
    "SIGXFSZ": "file size limit reached",
    "SIGKILL": "out of memory, or the CPU limit's hard stop",
}


def exit_reason(returncode: int, via_bwrap: bool) -> tuple[str, str | None]:
    """(words, signal name) for how a worker ended.

    A plain process killed by signal N has status -N; bwrap passes its child's end on as
    status 128 + N, the shell's convention (so ``os._exit(139)`` would read as SIGSEGV too).
    """
    number = None
    if returncode < 0:
        number = -returncode
    elif via_bwrap and 128 < returncode < 128 + 65:
        number = returncode - 128
    if number is None:
        return f"exited with status {returncode}", None
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"killed by signal {number}", None
    cause = SIGNAL_CAUSES.get(name)
    return (f"killed by {name} ({cause})" if cause else f"killed by {name}"), name
