"""The sandboxed worker that runs candidate code, and the grader's client for it.

The grader never imports or executes a submission: `Sandbox` starts a worker process
(bubblewrap, an unprivileged uid, rlimits, an audit hook) and talks to it over pipes in a
small protocol of JSON and raw tensor bytes (``protocol.py``), never pickles. See
DESIGN.md, "The trust boundary".

Parent side: ``client.py`` (the API), ``process.py`` (pipes, deadlines, killing),
``isolation.py`` (bwrap or the fallback, uids), ``output.py``, ``errors.py``.
Worker side, bound read-only into the sandbox, importing nothing from ``grader``:
``worker.py``, ``protocol.py``, ``audit.py``, ``loader.py``, ``recorder.py``, ``recipes.py``
and any ``*_recipes.py`` (more trusted recipes, found by name and imported at start-up).
"""

from grader.sandbox.client import (
    LoadReport,
    ModuleInfo,
    OutputTail,
    ParamInfo,
    Sandbox,
    SymbolInfo,
)
from grader.sandbox.errors import (
    CandidateError,
    ProtocolViolation,
    RequestError,
    StaleHandle,
    WorkerCrashed,
    WorkerDead,
    WorkerError,
    WorkerTimeout,
)
from grader.sandbox.isolation import SandboxInfo
from grader.sandbox.protocol import Handle

__all__ = [
    "CandidateError",
    "Handle",
    "LoadReport",
    "ModuleInfo",
    "OutputTail",
    "ParamInfo",
    "ProtocolViolation",
    "RequestError",
    "Sandbox",
    "SandboxInfo",
    "StaleHandle",
    "SymbolInfo",
    "WorkerCrashed",
    "WorkerDead",
    "WorkerError",
    "WorkerTimeout",
]
