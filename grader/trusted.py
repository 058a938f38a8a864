"""The reference implementations as source text, for loading into a worker of their own.

Every run of the reference (the training check's baseline, the timings' reference side, the
interviewer's ``reference.py`` that generic kinds compare against) happens in a sandboxed
worker, exactly as a candidate's code runs, so both are measured under the same limits and
the candidate's worker never holds the answer key. The worker cannot import the project (its
folders are not mounted), so the reference travels as strings, like a submission does:

- the project's ``reference`` package, the modules the assignment's kinds declare
  (``Kind.reference_modules``), addressed as ``reference.<module>:<name>``;
- the assignment's own ``reference.py``, as the module ``solution`` (the main module: bare
  names resolve there).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import reference
from grader.config import GraderConfig
from grader.early import EarlyStart
from grader.sandbox import Sandbox, WorkerError

REFERENCE_DIR = Path(reference.__file__).resolve().parent
MODEL_MODULES = ("masks", "attention", "encoder", "positional", "model")
"""The modules the reference language model needs, in import order."""
SOLUTION = "solution"
"""The module name of an assignment's ``reference.py`` in the trusted worker."""


@cache
def reference_modules(names: tuple[str, ...] = MODEL_MODULES) -> dict[str, str]:
    """``{"reference": ..., "reference.masks": ..., ...}``: the package's ``__init__`` and the
    named modules, ready for `Sandbox.load_modules`."""
    modules = {"reference": (REFERENCE_DIR / "__init__.py").read_text(encoding="utf-8")}
    for name in names:
        modules[f"reference.{name}"] = (REFERENCE_DIR / f"{name}.py").read_text(encoding="utf-8")
    return modules


def ordered(names: set[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``names`` in the package's import order (a module after those it imports)."""
    order = {name: i for i, name in enumerate(MODEL_MODULES)}
    return tuple(sorted(set(names), key=lambda n: (order.get(n, len(order)), n)))


class ReferenceUnavailable(RuntimeError):
    """The reference could not be loaded into a worker (the message says why)."""


def start_reference(
    config: GraderConfig,
    modules: tuple[str, ...] = MODEL_MODULES,
    solution: str | None = None,
) -> Sandbox:
    """A started worker holding the reference only, under the candidate's limits: the project
    package's ``modules`` and, when given, an assignment's ``solution`` source. The caller
    closes it."""
    sources = reference_modules(ordered(modules)) if modules else {}
    if solution is not None:
        sources = {**sources, SOLUTION: solution}
    if not sources:
        raise ReferenceUnavailable("the assignment has no reference to load")
    main = SOLUTION if solution is not None else f"reference.{ordered(modules)[-1]}"
    worker = Sandbox(config.sandbox, device=config.device, seed=config.seed, label="reference")
    worker.start()
    report = worker.load_modules(sources, main=main)
    if not report.ok:
        worker.close()
        raise ReferenceUnavailable(f"the reference did not load in its worker: {report.error}")
    return worker


class LazyReference:
    """The trusted reference worker of one submission, started on first use and shared by
    every hook that needs it (the training baseline, the timings, generic comparisons)."""

    def __init__(
        self, config: GraderConfig, modules: tuple[str, ...], solution: str | None
    ) -> None:
        self.config, self.modules, self.solution = config, modules, solution
        self.worker: Sandbox | None = None
        self.failure: str | None = None
        self._early: EarlyStart[Sandbox] | None = None
        self._alongside: EarlyStart[Any] | None = None
        self._lock = threading.RLock()  # the kinds may use it from a thread of their own

    def alongside(self, compute: Callable[[], Any]) -> EarlyStart[Any]:
        """``compute()`` in a background thread that has the worker to itself: any other
        thread's `get` waits until it is done (a timing round must never share the worker
        with a training run). ``take()`` gives its value."""
        self.prestart()  # started from a thread that outlives it (`grader.early`)
        with self._lock:
            self._alongside = EarlyStart(compute, lambda value: None, name="reference-side")
            return self._alongside

    def prestart(self) -> None:
        """Start the worker now, in the background, so that it is ready when first needed
        (`grader.early`); nothing when there is no reference to load."""
        with self._lock:
            started = self.worker is not None or self._early is not None
            if started or self.failure is not None or not (self.modules or self.solution):
                return
            self._early = EarlyStart(
                lambda: start_reference(self.config, self.modules, self.solution),
                Sandbox.close,
                name="reference-start",
                hold=lambda worker: worker.alive,
            )

    @classmethod
    def started(cls, worker: Sandbox, config: GraderConfig) -> LazyReference:
        """A holder of a reference worker started elsewhere (shared across submissions)."""
        holder = cls(config, (), None)
        holder.worker = worker
        return holder

    def get(self) -> Sandbox:
        """The started worker; `ReferenceUnavailable` when it cannot start (said once, then
        the same reason every time)."""
        alongside = self._alongside
        if alongside is not None and threading.current_thread() is not alongside.thread:
            alongside.wait()
        with self._lock:
            if self.failure is not None:
                raise ReferenceUnavailable(self.failure)
            if self.worker is None or not self.worker.alive:
                try:
                    if self._early is not None:  # started in the background: wait for it
                        early, self._early = self._early, None
                        self.worker = early.take()
                    elif self.worker is not None:
                        self.worker.restart()  # reloads the same sources
                    else:
                        self.worker = start_reference(self.config, self.modules, self.solution)
                except (ReferenceUnavailable, WorkerError) as exc:
                    self.failure = exc.summary() if isinstance(exc, WorkerError) else str(exc)
                    raise ReferenceUnavailable(self.failure) from None
            return self.worker

    def optional(self) -> Sandbox | None:
        """The worker, or None when it cannot start (each stage then says why on its own)."""
        try:
            return self.get()
        except ReferenceUnavailable:
            return None

    def close(self) -> None:
        with self._lock:
            if self._early is not None:  # never needed: stopped once started, not waited for
                self._early.drop()
                self._early = None
            if self.worker is not None:
                self.worker.close()
                self.worker = None
