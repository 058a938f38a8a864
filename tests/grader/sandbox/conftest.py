"""Fixtures for the sandbox tests: workers that are always closed, and the attack corpus."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.config import SandboxLimits
from grader.sandbox import Sandbox
from grader.sandbox.isolation import bwrap_problem

ATTACKS = Path(__file__).parent / "attacks"

TEST_LIMITS = SandboxLimits(call_timeout_s=20.0, startup_timeout_s=60.0, submission_timeout_s=300.0)
"""The defaults, with shorter wall clocks so a hung test fails in seconds, not minutes."""


def attack_source(name: str) -> str:
    """The source text of ``attacks/<name>.py``."""
    return (ATTACKS / f"{name}.py").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def bwrap_ready() -> None:
    """Skip when bubblewrap cannot run a worker on this machine (the fallback has its own
    tests, which do not need it)."""
    problem = bwrap_problem()
    if problem is not None:
        pytest.skip(f"bubblewrap cannot run workers here: {problem}")


SandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def open_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxFactory]:
    """Start sandboxes on demand (bwrap unless ``isolation=`` says otherwise); close them all
    when the test ends, whatever happened."""
    opened: list[Sandbox] = []

    def start(limits: SandboxLimits = TEST_LIMITS, **kwargs: Any) -> Sandbox:
        if kwargs.get("isolation", "bwrap") != "rlimits-only":
            request.getfixturevalue("bwrap_ready")
            kwargs.setdefault("isolation", "bwrap")
        sandbox = Sandbox(limits, label=request.node.name, **kwargs)
        opened.append(sandbox)
        sandbox.start()
        return sandbox

    yield start
    for sandbox in opened:
        sandbox.close()


@pytest.fixture
def load_attack(open_sandbox: SandboxFactory) -> Callable[..., tuple[Sandbox, Any]]:
    """A fresh bwrap worker with one attack file loaded: ``(sandbox, load report)``."""

    def load(
        name: str, limits: SandboxLimits = TEST_LIMITS, load_timeout: float | None = None
    ) -> tuple[Sandbox, Any]:
        sandbox = open_sandbox(limits)
        return sandbox, sandbox.load(attack_source(name), _timeout=load_timeout)

    return load
