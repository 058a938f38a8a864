"""Start something now, in a background thread, and take it when it is needed.

A worker spends seconds starting (a new interpreter importing torch inside bubblewrap) during
which the grader only waits on a pipe. Started early, that wait overlaps work the grader
does meanwhile: the static analysis while the candidate's worker starts, the candidate's
checks while the reference's worker starts. `EarlyStart` is that overlap, and nothing else:

- ``take()`` waits for the start to end and returns what it made, or raises what the start
  raised (in the caller's thread, where it would have been raised without the overlap);
- ``drop()`` is for a start that turned out unneeded (the code did not load, the handout came
  back unchanged): it never waits, and what the start makes is stopped as soon as it exists.

A process started from a thread has that thread as its parent: bubblewrap's
``--die-with-parent`` (``PR_SET_PDEATHSIG``) kills the worker when the thread ends, not the
process. So with ``hold``, the thread outlives the start for as long as ``hold(value)`` is
true (a sandbox: while its worker is alive), polling it every `HOLD_POLL_S`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

HOLD_POLL_S = 0.25
"""How often a holding thread checks whether it may end (it only sleeps in between)."""


class EarlyStart(Generic[T]):
    """``start()`` running in a daemon thread from construction on; ``stop(value)`` undoes it."""

    def __init__(
        self,
        start: Callable[[], T],
        stop: Callable[[T], None],
        name: str = "early-start",
        hold: Callable[[T], bool] | None = None,
    ) -> None:
        self._start, self._stop, self._hold = start, stop, hold
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._dropped = False
        self._value: T | None = None
        self._error: BaseException | None = None
        self.seconds: float | None = None
        """How long the start took (None until it ended)."""
        self.thread = threading.Thread(target=self._run, daemon=True, name=name)
        """The thread the start runs in."""
        self.thread.start()

    def _run(self) -> None:
        began = time.monotonic()
        try:
            value = self._start()
        except BaseException as exc:  # noqa: BLE001 - re-raised by take(), in the caller's thread
            self._error = exc
            self.seconds = time.monotonic() - began
            self._done.set()
            return
        self.seconds = time.monotonic() - began
        with self._lock:
            dropped = self._dropped
            if not dropped:
                self._value = value
        self._done.set()
        if dropped:
            self._stop(value)  # dropped while it started
            return
        while self._hold is not None and self._hold(value):
            time.sleep(HOLD_POLL_S)  # the worker's parent must live as long as it does

    def take(self) -> T:
        """What the start made (waiting for it to end), or its exception, raised here."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        if self._value is None:
            raise RuntimeError("an early start was taken after it was dropped")
        return self._value

    def wait(self) -> None:
        """Wait for the start to end, whatever it gave (for cleaning up)."""
        self._done.wait()

    def drop(self) -> None:
        """Stop what the start made, now if it is made, else as soon as it is; never waits."""
        with self._lock:
            self._dropped = True
            value, self._value = self._value, None
        if value is not None:
            self._stop(value)
