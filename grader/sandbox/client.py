"""`Sandbox`: the grader's handle on one worker, and the only way to run candidate code.

    with Sandbox(limits, device="cpu", seed=0, label="sub-name") as w:
        report = w.load(source)                       # run the module's top level
        mha = w.new("MultiHeadSelfAttention", 64, 4)  # a Handle to an object in the worker
        y = w.call(mha, x, x, x, mask=m)              # tensors in, tensors out

Values cross as described in ``protocol.py``: plain data and tensors come back as fresh
objects built by the grader; anything else comes back as a `Handle`. Every call has a
wall-clock limit (``_timeout=`` or ``limits.call_timeout_s``) and the submission as a whole
has another (``limits.submission_timeout_s``, across restarts). A timeout, a crash or a
malformed message kills the worker and raises a `WorkerError`; the client then refuses
calls until ``restart()``. An exception in candidate code raises `CandidateError` and the
worker lives on.

One call at a time per sandbox (a lock serialises them). Create and use a sandbox in
threads that outlive it: the kernel ties the worker's life to the thread that started it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import torch

from grader.config import SandboxLimits
from grader.sandbox import protocol
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
from grader.sandbox.isolation import LaunchPlan, SandboxInfo, plan_launch
from grader.sandbox.output import CappedOutput
from grader.sandbox.process import Closed, Timeout, WorkerProcess, exit_reason
from grader.sandbox.protocol import Handle

TEXT_LIMIT = 20_000
"""Longest string accepted in a reply's metadata (messages, tracebacks, audit lines)."""


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a candidate's function or constructor."""

    name: str
    kind: str
    """``positional_only``, ``positional_or_keyword``, ``var_positional``, ``keyword_only``
    or ``var_keyword`` (inspect's kinds)."""
    has_default: bool
    default_repr: str | None


@dataclass(frozen=True)
class SymbolInfo:
    """A name the loaded module defines."""

    name: str
    kind: Literal["function", "class", "module", "value"]
    signature: str | None
    params: tuple[ParamInfo, ...] = ()
    defined_here: bool = False
    """Defined by the submission itself (not imported)."""


@dataclass(frozen=True)
class LoadReport:
    """What loading a submission did."""

    ok: bool
    error: WorkerError | None
    """`CandidateError` when the top level raised (what it defined before stays usable);
    `WorkerCrashed`/`WorkerTimeout` when loading killed the worker."""
    symbols: dict[str, SymbolInfo]
    stdout: str
    stderr: str
    audit_events: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    """Packages the code imported that the environment lacks: placeholders were bound, and
    what uses them raises ``ModuleNotFoundError`` (see ``loader.py``)."""
    left_out: tuple[tuple[int, str], ...] = ()
    """(line, message) of each top-level statement not run because it needs one of them."""


@dataclass(frozen=True)
class ModuleInfo:
    """One submodule of a candidate's ``nn.Module`` (``""`` is the module itself)."""

    name: str
    type_name: str
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Its own parameters (not its children's) by name, with their shapes."""


@dataclass(frozen=True)
class OutputTail:
    """The candidate's output kept so far (head and tail within the byte budget)."""

    stdout: str
    stderr: str
    dropped_bytes: int


class Sandbox:
    """One sandboxed worker for one submission (or for the trusted reference)."""

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        device: str = "cpu",
        seed: int = 0,
        label: str = "worker",
        isolation: Literal["auto", "bwrap", "rlimits-only"] = "auto",
        hidden_paths: tuple[str, ...] = (),
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.device = device
        self.seed = seed
        self.label = label
        self._isolation = isolation
        self._hidden = tuple(str(p) for p in hidden_paths)
        """Extra paths the worker must not read (the output folder); only the fallback needs
        them, bwrap shows the worker nothing of the host in the first place."""
        self._lock = threading.RLock()
        self._stdout = CappedOutput(self.limits.max_output_bytes)
        self._stderr = CappedOutput(self.limits.max_output_bytes)
        self._process: WorkerProcess | None = None
        self._plan: LaunchPlan | None = None
        self._generation = object()
        self._dead: WorkerError | None = None
        self._seq = 0
        self._budget_end: float | None = None
        self._loaded: tuple[dict[str, str], str, str | None] | None = None
        self._stand_ins: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        """Name -> (stand_in recipe arguments) of every part bound in place of the
        candidate's, re-bound after a restart (which reloads their code)."""
        self._call_limit: float | None = None
        """Per-call limit in force instead of ``limits.call_timeout_s`` (`calls_limited`)."""
        self._originals: dict[str, Handle] = {}
        self.audit_events: list[str] = []
        """Every audit refusal of this submission, in order, across restarts."""
        self.ready: dict[str, Any] = {}
        """What the worker said when it started (pid, uid, torch version)."""

    # --- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def info(self) -> SandboxInfo:
        if self._plan is None:
            raise RuntimeError("the sandbox has not been started")
        return self._plan.info

    @property
    def alive(self) -> bool:
        return self._process is not None and self._dead is None and self._process.alive()

    def start(self) -> None:
        """Start the worker and wait until it is ready (``limits.startup_timeout_s``)."""
        with self._lock:
            if self._process is not None:
                self._process.kill()  # started twice: the old worker goes first
            if self._budget_end is None:
                self._budget_end = time.monotonic() + self.limits.submission_timeout_s
            limit = self._remaining(self.limits.startup_timeout_s)
            self._generation = object()
            self._dead = None
            try:
                plan = plan_launch(
                    self.limits, self.device, self.seed, self._isolation, self._hidden
                )
                self._plan = plan
                self._process = WorkerProcess(
                    plan, self.limits.max_message_bytes, self._stdout, self._stderr
                )
            except (RuntimeError, OSError) as exc:
                raise self._kill(WorkerCrashed(f"the worker could not start: {exc}")) from None
            try:
                header, _ = self._process.receive(time.monotonic() + limit)
            except (Timeout, Closed, protocol.ProtocolError) as exc:
                raise self._failure(exc, "during start-up", limit) from None
            if header.meta.get("status") != "ready":
                raise self._kill(ProtocolViolation("the worker's first message was not 'ready'"))
            self.ready = header.meta
            if self.device.startswith("cuda") and not header.meta.get("cuda"):
                raise self._kill(WorkerCrashed("CUDA is not available inside the worker"))

    def close(self) -> None:
        """Stop the worker (killing whatever it still runs)."""
        with self._lock:
            if self._process is not None:
                self._process.kill()
                self._process = None
            self._dead = self._dead or WorkerError("the sandbox was closed")

    def restart(self) -> LoadReport | None:
        """A fresh worker with the same source reloaded; earlier handles become stale.
        The submission's wall-clock budget keeps running."""
        with self._lock:
            if self._process is not None:
                self._process.kill()
                self._process = None
            self.start()
            if self._loaded is None:
                return None
            modules, main, filename = self._loaded
            self._loaded = None
            report = self.load_modules(modules, main=main, filename=filename)
            for name, (args, kwargs) in self._stand_ins.items():
                self._bind_stand_in(name, args, kwargs)
            return report

    # --- stand-ins and limits -------------------------------------------------------------

    def substitute(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Bind the candidate's ``name`` to a stand-in (``standin_recipes.stand_in(*args)``)
        until `restore`; kept across restarts."""
        with self._lock:
            self._bind_stand_in(name, args, kwargs)
            self._stand_ins[name] = (args, kwargs)

    def _bind_stand_in(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        part = self.run("stand_in", *args, **kwargs)
        previous = self._request("rebind", {"name": name, "value": part}, None)
        self._originals[name] = previous

    def restore(self) -> None:
        """Bind every substituted name back to the candidate's own code."""
        with self._lock:
            names, self._stand_ins = list(self._stand_ins), {}
            originals, self._originals = self._originals, {}
            if not self.alive:
                return  # a restart will load their own code, with no stand-in
            for name in names:
                if name in originals:
                    self._request("rebind", {"name": name, "value": originals[name]}, None)

    @contextlib.contextmanager
    def calls_limited(self, seconds: float) -> Iterator[None]:
        """Within the block, a call without its own ``_timeout`` may last ``seconds``."""
        previous, self._call_limit = self._call_limit, seconds
        try:
            yield
        finally:
            self._call_limit = previous

    # --- loading ------------------------------------------------------------------------

    def load(
        self,
        source: str,
        filename: str = "submission.py",
        _timeout: float | None = None,
        modules: Any = (),
    ) -> LoadReport:
        """Run a submission's source as the module ``submission``; ``modules`` are the
        candidate's helper modules (anything with ``name`` and ``source``, e.g.
        `grader.intake.HelperModule`), loaded first under their own names so that the
        submission's ``import helpers`` finds them."""
        sources = {m.name: m.source for m in modules if m.name != "submission"}
        return self.load_modules(
            {**sources, "submission": source},
            main="submission",
            filename=filename,
            _timeout=_timeout,
        )

    def load_modules(
        self,
        modules: dict[str, str],
        main: str,
        filename: str | None = None,
        _timeout: float | None = None,
    ) -> LoadReport:
        """Load several modules from source text (``{"reference.attention": src, ...}``, a
        package's modules importing each other as usual); ``main``'s namespace is what
        `call`, `new` and the symbols refer to. ``filename`` names main in tracebacks."""
        marks = (self._stdout.total, self._stderr.total)
        events_before = len(self.audit_events)
        payload = {"modules": dict(modules), "main": main, "filename": filename}
        timeout = _timeout if _timeout is not None else self.limits.startup_timeout_s
        symbols: dict[str, SymbolInfo] = {}
        error: WorkerError | None
        missing: tuple[str, ...] = ()
        left_out: tuple[tuple[int, str], ...] = ()
        try:
            reply = self._request("load", payload, timeout)
            symbols, error, missing, left_out = self._validated(_load_reply, reply)
        except (WorkerTimeout, WorkerCrashed, ProtocolViolation) as exc:
            error = exc
        self._loaded = (dict(modules), main, filename)
        return LoadReport(
            ok=error is None,
            error=error,
            symbols=symbols,
            stdout=self._stdout.text(marks[0]),
            stderr=self._stderr.text(marks[1]),
            audit_events=tuple(self.audit_events[events_before:]),
            missing=missing,
            left_out=left_out,
        )

    # --- calling ------------------------------------------------------------------------

    def symbol(self, name: str, _timeout: float | None = None) -> Handle:
        """A handle to a symbol of the loaded module (e.g. a class, to pass to a recipe)."""
        return self._request("symbol", {"name": name}, _timeout)

    def new(
        self, cls: str | Handle, *args: Any, _timeout: float | None = None, **kwargs: Any
    ) -> Handle:
        """Construct ``cls`` (a class symbol's name or a handle) in the worker."""
        return self._request("new", {"target": cls, "args": list(args), "kwargs": kwargs}, _timeout)

    def torch_new(
        self,
        name: str,
        *args: Any,
        params_of: Handle | None = None,
        _timeout: float | None = None,
        **kwargs: Any,
    ) -> Handle:
        """Construct an allow-listed torch object (``nn.Dropout``, ``optim.SGD``, ...); with
        ``params_of``, that module's parameters are the first argument (for optimisers)."""
        payload = {"name": name, "args": list(args), "kwargs": kwargs, "params_of": params_of}
        return self._request("torch_new", payload, _timeout)

    def call(
        self, target: str | Handle, *args: Any, _timeout: float | None = None, **kwargs: Any
    ) -> Any:
        """Call a function symbol (by name) or a callable handle."""
        return self._request(
            "call", {"target": target, "args": list(args), "kwargs": kwargs}, _timeout
        )

    def call_method(
        self,
        target: str | Handle,
        method: str,
        *args: Any,
        _timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call ``target.method(*args, **kwargs)``."""
        payload = {"target": target, "method": method, "args": list(args), "kwargs": kwargs}
        return self._request("call_method", payload, _timeout)

    def getattr(self, target: str | Handle, path: str, _timeout: float | None = None) -> Any:
        """The value (or a handle) at a dotted attribute path: ``"linear_query.weight"``."""
        return self._request("getattr", {"target": target, "path": path}, _timeout)

    def setattr(
        self, target: str | Handle, path: str, value: Any, _timeout: float | None = None
    ) -> None:
        """Set the attribute at a dotted path."""
        self._request("setattr", {"target": target, "path": path, "value": value}, _timeout)

    def state_dict(self, module: Handle, _timeout: float | None = None) -> dict[str, torch.Tensor]:
        """A copy of the module's state dict (tensors detached, on the CPU)."""
        return self._request("state_dict", {"target": module}, _timeout)

    def load_state_dict(
        self,
        module: Handle,
        state: dict[str, torch.Tensor],
        strict: bool = True,
        _timeout: float | None = None,
    ) -> dict[str, list[str]]:
        """Load tensors into the module; returns its missing and unexpected keys."""
        payload = {"target": module, "state": dict(state), "strict": strict}
        return self._request("load_state_dict", payload, _timeout)

    def modules(self, module: Handle, _timeout: float | None = None) -> list[ModuleInfo]:
        """Every submodule with its type and its own parameters' shapes."""
        rows = self._request("modules", {"target": module}, _timeout)
        return self._validated(_module_infos, rows)

    def record(self, name: str, limit: int = 16, _timeout: float | None = None) -> None:
        """Start recording calls to a function (``"attention"``) or a method
        (``"Class.method"``) of the loaded module, keeping the first ``limit`` calls."""
        self._request("record", {"name": name, "limit": limit}, _timeout)

    def recorded(self, name: str, _timeout: float | None = None) -> list[dict[str, Any]]:
        """The calls recorded so far: arguments by parameter name, and ``"return"``."""
        return self._request("recorded", {"name": name}, _timeout)

    def stop_recording(self, name: str, _timeout: float | None = None) -> None:
        """Put the original function or method back."""
        self._request("stop_recording", {"name": name}, _timeout)

    def run(self, recipe: str, *args: Any, _timeout: float | None = None, **kwargs: Any) -> Any:
        """Run a trusted function of ``recipes.py`` in the worker."""
        return self._request(
            "run", {"recipe": recipe, "args": list(args), "kwargs": kwargs}, _timeout
        )

    def release(self, *handles: Handle) -> None:
        """Let the worker forget objects the grader no longer needs."""
        for handle in handles:
            self._check_handle(handle)
        self._request("release", {"ids": [h.id for h in handles]}, None)

    def ping(self, _timeout: float | None = None) -> None:
        """A round trip that does nothing (health check, overhead measurement)."""
        self._request("ping", {}, _timeout)

    def output_tail(self) -> OutputTail:
        """The candidate's stdout and stderr so far."""
        return OutputTail(
            stdout=self._stdout.text(),
            stderr=self._stderr.text(),
            dropped_bytes=self._stdout.dropped + self._stderr.dropped,
        )

    # --- one request --------------------------------------------------------------------

    def _request(self, op: str, payload: dict[str, Any], timeout: float | None) -> Any:
        with self._lock:
            if self._dead is not None:
                raise WorkerDead(self._dead)
            if self._process is None:
                raise RuntimeError("the sandbox has not been started")
            default = (
                self._call_limit if self._call_limit is not None else self.limits.call_timeout_s
            )
            limit = self._remaining(timeout if timeout is not None else default)
            encoder = protocol.Encoder(on_handle=self._check_handle)
            self._seq += 1
            chunks = protocol.frame({"op": op, "seq": self._seq}, encoder.encode(payload), encoder)
            try:
                header, buffers = self._process.exchange(chunks, time.monotonic() + limit)
                return self._reply_value(header, buffers)
            except (Timeout, Closed, protocol.ProtocolError) as exc:
                raise self._failure(exc, "during a call", limit) from None

    def _reply_value(self, header: protocol.Header, buffers: list[bytearray]) -> Any:
        meta = header.meta
        if meta.get("seq") != self._seq or meta.get("status") not in ("ok", "error"):
            raise protocol.ProtocolError("a reply that does not answer the request")
        events = meta.get("audit")
        if type(events) is not list or not all(type(e) is str for e in events):
            raise protocol.ProtocolError("malformed audit events")
        events = [e[:TEXT_LIMIT] for e in events]
        dropped = meta.get("audit_dropped")
        if type(dropped) is int and dropped > 0:
            events.append(f"... and {dropped} more refusals")
        self.audit_events.extend(events)
        value = protocol.Decoder(header.descriptors, buffers, self._make_handle).decode(
            header.payload
        )
        if meta["status"] == "error":
            raise _error_from(meta.get("error"), tuple(events))
        return value

    def _validated(self, parse: Any, value: Any) -> Any:
        """``parse(value)``, where a malformed value is the worker's protocol violation."""
        try:
            return parse(value)
        except (protocol.ProtocolError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._kill(ProtocolViolation(f"malformed reply: {exc}")) from None

    # --- handles ------------------------------------------------------------------------

    def _make_handle(self, tree: dict[str, Any]) -> Handle:
        return Handle(
            id=tree["$h"],
            type_name=tree.get("type", "object")[:200],
            repr=tree.get("repr", "")[: protocol.REPR_CHARS],
            owner=self._generation,
        )

    def _check_handle(self, handle: Handle) -> None:
        if handle.owner is not self._generation:
            raise StaleHandle(
                f"handle to {handle.type_name} belongs to another worker or to this one before "
                "a restart; get a new one"
            )

    # --- failures -----------------------------------------------------------------------

    def _remaining(self, wanted: float) -> float:
        """``wanted`` seconds, or what is left of the submission's budget if less."""
        assert self._budget_end is not None
        left = self._budget_end - time.monotonic()
        if left <= 0:
            raise self._kill(
                WorkerTimeout(
                    f"the submission's wall-clock budget of {self.limits.submission_timeout_s:.0f} s is spent",
                    self.limits.submission_timeout_s,
                )
            )
        return min(wanted, left)

    def _failure(self, exc: Exception, phase: str, limit: float) -> WorkerError:
        """Kill the worker and describe why, as the error to raise."""
        assert self._process is not None and self._plan is not None
        if isinstance(exc, Timeout):
            return self._kill(
                WorkerTimeout(f"killed after {limit:.0f} s {phase} (wall-clock limit)", limit)
            )
        if isinstance(exc, protocol.ProtocolError):
            return self._kill(ProtocolViolation(f"invalid message from the worker {phase}: {exc}"))
        status = self._process.wait_exit(2.0)
        if status is None:
            return self._kill(WorkerCrashed(f"the worker closed its reply pipe {phase}"))
        words, signal_name = exit_reason(status, self._plan.info.isolation == "bwrap")
        words += f" {phase}" + (" (sys.exit/os._exit)" if signal_name is None else "")
        if phase == "during start-up":
            words += f"; its stderr ends: {self._stderr.text()[-600:].strip()}"
        return self._kill(WorkerCrashed(words, returncode=status, signal=signal_name))

    def _kill(self, error: WorkerError) -> WorkerError:
        if self._process is not None:
            self._process.kill()
        self._dead = error
        return error


def _load_reply(
    reply: dict[str, Any],
) -> tuple[dict[str, SymbolInfo], WorkerError | None, tuple[str, ...], tuple[tuple[int, str], ...]]:
    """(symbols, the top level's error, missing packages, statements left out for them)
    from a load reply."""
    symbols = {}
    for row in reply["symbols"]:
        kind = row["kind"] if row["kind"] in ("function", "class", "module", "value") else "value"
        info = SymbolInfo(
            name=_text(row["name"]),
            kind=kind,
            signature=_text(row["signature"]) if row["signature"] is not None else None,
            params=tuple(
                ParamInfo(
                    _text(p["name"]),
                    _text(p["kind"]),
                    p["has_default"] is True,
                    _text(p["default_repr"]) if p["default_repr"] is not None else None,
                )
                for p in row["params"]
            ),
            defined_here=row["defined_here"] is True,
        )
        symbols[info.name] = info
    error = reply["error"]
    missing = tuple(_text(name) for name in reply.get("missing", ()))
    left_out = tuple((int(row["line"]), _text(row["message"])) for row in reply.get("left_out", ()))
    return symbols, (_error_from(error) if error is not None else None), missing, left_out


def _module_infos(rows: list[dict[str, Any]]) -> list[ModuleInfo]:
    out = []
    for row in rows:
        params = {
            _text(name): tuple(int(n) for n in shape) for name, shape in row["params"].items()
        }
        out.append(ModuleInfo(_text(row["name"]), _text(row["type_name"]), params))
    return out


def _error_from(error: Any, events: tuple[str, ...] = ()) -> WorkerError:
    """The error a reply describes (validated: it came from the worker)."""
    if type(error) is not dict or not all(
        type(error.get(k)) is str for k in ("kind", "type", "message", "traceback")
    ):
        raise protocol.ProtocolError("malformed error in a reply")
    message = error["message"][:TEXT_LIMIT]
    if error["kind"] == "request":
        return RequestError(message, events)
    return CandidateError(error["type"][:200], message, error["traceback"][:TEXT_LIMIT], events)


def _text(value: Any) -> str:
    """A string from the worker, checked and cut to a sane length."""
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value[:TEXT_LIMIT]
