"""What can go wrong in a worker, as the grader sees it.

Every error is a `WorkerError` with a ``kind`` (for code), a ``message`` (for people) and a
one-line ``summary()`` for a scorecard ("error: killed after 30 s"). A check catches
`WorkerError` and turns it into an ``error`` result; nothing a submission does reaches the
grader as anything else.
"""

from __future__ import annotations


class WorkerError(Exception):
    """Base of everything a worker call can raise."""

    kind = "worker"

    def __init__(self, message: str, audit_events: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.audit_events = audit_events
        """Audit refusals reported with the failing call (e.g. a refused socket)."""

    def summary(self) -> str:
        """One line for a report."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else self.kind
        return f"error: {first[:200]}"


class CandidateError(WorkerError):
    """An exception raised by the candidate's code; the worker is still alive."""

    kind = "candidate"

    def __init__(
        self, type: str, message: str, traceback: str = "", audit_events: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, audit_events)
        self.type = type
        """The exception's class name, e.g. ``RuntimeError`` or ``MemoryError``."""
        self.traceback = traceback
        """The traceback trimmed to the candidate's own frames."""

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    def summary(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"error: {self.type}: {first[:200]}" if first else f"error: {self.type}"


class WorkerTimeout(WorkerError):
    """A call or the whole submission ran past its wall-clock limit; the worker was killed."""

    kind = "timeout"

    def __init__(self, message: str, seconds: float, audit_events: tuple[str, ...] = ()) -> None:
        super().__init__(message, audit_events)
        self.seconds = seconds


class WorkerCrashed(WorkerError):
    """The worker process ended during a call: a signal, an exit, the memory limit."""

    kind = "crashed"

    def __init__(
        self,
        message: str,
        returncode: int | None = None,
        signal: str | None = None,
        audit_events: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, audit_events)
        self.returncode = returncode
        self.signal = signal
        """Name of the signal that ended it (``SIGSEGV``), when known."""


class ProtocolViolation(WorkerError):
    """The worker sent something that is not a valid message (garbage, an oversize frame,
    a forged reply); it was killed."""

    kind = "protocol"


class RequestError(WorkerError):
    """The grader asked for something the worker cannot do: an unknown symbol, handle,
    recipe or constructor. Not the candidate's fault; the worker is still alive."""

    kind = "request"


class StaleHandle(WorkerError):
    """A handle from a worker that has since been restarted or closed."""

    kind = "stale"


class WorkerDead(WorkerError):
    """The worker was killed earlier and not restarted; ``cause`` says why."""

    kind = "dead"

    def __init__(self, cause: WorkerError) -> None:
        super().__init__(f"the worker is not running ({cause.summary()}); restart() it first")
        self.cause = cause
