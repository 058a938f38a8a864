"""Starting workers early: `EarlyStart` hands over what its thread made (or raises its error in
the taker's thread), stops what was dropped exactly once without waiting, and keeps a real
sandbox's worker alive after the thread that started it has finished its start."""

from __future__ import annotations

import threading
import time

import pytest

from grader.config import GraderConfig
from grader.early import EarlyStart
from grader.sandbox import Sandbox
from grader.trusted import LazyReference


def test_take_returns_what_the_start_made_and_how_long_it_took() -> None:
    early = EarlyStart(lambda: (time.sleep(0.05), "worker")[1], lambda value: None)
    assert early.take() == "worker"
    assert early.seconds is not None and early.seconds >= 0.04


def test_the_starts_error_is_raised_by_take() -> None:
    def start() -> str:
        raise RuntimeError("the worker could not start")

    early = EarlyStart(start, lambda value: None)
    with pytest.raises(RuntimeError, match="could not start"):
        early.take()


def test_a_value_dropped_after_its_start_is_stopped_once() -> None:
    stopped: list[str] = []
    early = EarlyStart(lambda: "worker", stopped.append)
    early.wait()
    early.drop()
    early.drop()
    assert stopped == ["worker"]
    with pytest.raises(RuntimeError, match="dropped"):
        early.take()


def test_dropping_during_the_start_never_waits_and_stops_the_value_when_made() -> None:
    release, stopped = threading.Event(), threading.Event()
    early = EarlyStart(lambda: (release.wait(5), "worker")[1], lambda value: stopped.set())
    began = time.monotonic()
    early.drop()
    assert time.monotonic() - began < 0.5  # did not wait for the start
    assert not stopped.is_set()
    release.set()
    assert stopped.wait(5)


def test_the_thread_holds_on_while_asked_to() -> None:
    holding = threading.Event()
    early = EarlyStart(
        lambda: "worker", lambda value: None, hold=lambda value: not holding.is_set()
    )
    early.take()
    time.sleep(0.3)
    assert early.thread.is_alive()  # still the parent of what it started
    holding.set()
    early.thread.join(5)
    assert not early.thread.is_alive()


class Running:
    """Stands for a started worker (LazyReference only asks whether it is alive)."""

    alive = True

    def close(self) -> None:
        self.alive = False


def test_a_computation_alongside_has_the_reference_worker_to_itself() -> None:
    reference = LazyReference.started(Running(), GraderConfig())  # type: ignore[arg-type]
    release, order = threading.Event(), []

    def baseline() -> str:
        assert reference.get() is not None  # its own thread is never kept waiting
        release.wait(5)
        order.append("baseline done")
        return "run"

    running = reference.alongside(baseline)
    timing = threading.Thread(target=lambda: (reference.get(), order.append("timing got it")))
    timing.start()
    time.sleep(0.3)
    assert order == []  # the timing waits while the baseline runs
    release.set()
    timing.join(5)
    assert running.take() == "run"
    assert order == ["baseline done", "timing got it"]


@pytest.mark.slow
@pytest.mark.sandbox
def test_a_sandbox_started_early_outlives_its_start_and_a_reference_starts_alongside() -> None:
    config = GraderConfig()
    # bwrap --die-with-parent ends a worker with the *thread* that started it: the start's
    # thread must hold on while the worker lives.
    early = EarlyStart(
        lambda: (sandbox := Sandbox(config.sandbox)).start() or sandbox,
        Sandbox.close,
        hold=lambda worker: worker.alive,
    )
    reference = LazyReference(config, ("masks", "attention"), None)
    reference.prestart()
    worker = early.take()
    try:
        time.sleep(1.0)  # past the start: a worker tied to the finished thread would be gone
        assert worker.alive
        worker.ping()
        trusted = reference.get()  # the worker started in the background
        assert trusted.alive
        assert trusted.ready.get("status") == "ready"
    finally:
        worker.close()
        reference.close()
    assert not worker.alive
