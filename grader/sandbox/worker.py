"""The worker: runs a submission's code in the sandbox and answers the grader's requests.

Started by the grader (see ``process.py``) as ``python -I /worker/worker.py CONFIG`` inside
bubblewrap, as an unprivileged uid, with a scrubbed environment. It imports nothing from
``grader``: its siblings (``protocol``, ``audit``, ``loader``, ``recorder``, ``roles``,
``recipes``) are bound read-only next to it, and the project itself is not in the sandbox.

Start-up, in order: import torch (before any limit or hook, as the environment's own code);
apply the resource limits; seed; install the audit hook; say "ready". Then serve requests
until the grader closes the pipe: one frame in, one frame out, on two dedicated fds.
Candidate code may print anything on stdout/stderr; those go to separate pipes the grader
reads and caps, never mixed with the protocol.

Every reply carries the audit refusals since the previous reply. An exception from
candidate code is a reply too (type, message, traceback trimmed to the candidate's frames),
so the worker survives it; only a crash, a kill or a timeout ends the worker.
"""

from __future__ import annotations

import os
import sys

# -I keeps the script's own folder off sys.path; the siblings live there.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ctypes
import importlib
import json
import resource
import signal
import traceback
import types
from collections.abc import Callable
from typing import Any

import audit
import loader
import protocol
import recipes
import recorder
import roles
import torch

TRACEBACK_CHARS = 8000
MESSAGE_CHARS = 2000


WARM_UPS: dict[str, Callable[[], Any]] = {
    "einops": lambda: sys.modules["einops"].rearrange(torch.zeros(1, 1), "a b -> b a"),
}
"""Packages whose first call runs a slow lazy import, and a call that runs it: einops
imports torch._dynamo on its first torch tensor (6 s on an idle core, more under load).
Run once after a submission that imported the package is loaded, within the load's
limit, so the per-check limit of a call judges the candidate's code, not a package's
start-up."""


def warm_up_packages() -> None:
    for name, warm in WARM_UPS.items():
        if name in sys.modules:
            try:
                warm()
            except Exception:  # noqa: BLE001, S110 - the candidate's own calls will say why
                pass


class RequestError(Exception):
    """The grader asked for something impossible (unknown symbol, handle or recipe): not the
    candidate's fault, reported as such."""


class Keep:
    """Marks a result that must stay in the worker and come back as a handle, even when it
    could cross (``new`` always returns a handle)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj


def trusted_constructors() -> dict[str, Callable[..., Any]]:
    """The torch constructors ``torch_new`` may call, captured before candidate code runs
    (so a submission that replaces ``torch.nn.Dropout`` does not change what the grader
    builds through this table)."""
    names = [
        "nn.Dropout",
        "nn.Identity",
        "nn.Linear",
        "nn.Embedding",
        "nn.LayerNorm",
        "nn.CrossEntropyLoss",
        "nn.NLLLoss",
        "nn.MSELoss",
        "optim.SGD",
        "optim.Adam",
        "optim.AdamW",
        "optim.lr_scheduler.StepLR",
    ]
    table = {}
    for name in names:
        obj: Any = torch
        for part in name.split("."):
            obj = getattr(obj, part)
        table[name] = obj
    return table


class Worker:
    """The request loop and one handler per operation."""

    def __init__(self, config: dict[str, Any], guard: audit.AuditGuard) -> None:
        self.request_fd: int = config["request_fd"]
        self.reply_fd: int = config["reply_fd"]
        self.max_bytes: int = config["max_message_bytes"]
        self.guard = guard
        self.device = torch.device(config["device"])
        self.ctx = recipes.Context(device=self.device, seed=config["seed"])
        self.constructors = trusted_constructors()
        self.handles: dict[int, Any] = {}
        self.next_handle = 1
        self.module: types.ModuleType | None = None
        self.module_names: frozenset[str] = frozenset()
        self.filenames: frozenset[str] = frozenset()
        self.recorder: recorder.Recorder | None = None
        self.ops: dict[str, Callable[..., Any]] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    # --- the loop -----------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            try:
                header, buffers = protocol.read_frame(self.request_fd, self.max_bytes)
            except EOFError:
                return  # the grader is done with this worker
            seq, op = header.meta.get("seq"), header.meta.get("op")
            try:
                decoder = protocol.Decoder(
                    header.descriptors, buffers, self._resolve, keep_grad=True
                )
                payload = self._to_device(decoder.decode(header.payload))
                value, error = self._dispatch(op, payload)
            except RequestError as exc:
                value, error = None, _request_error(str(exc))
            self._reply(seq, value, error)

    def _dispatch(self, op: Any, payload: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        handler = self.ops.get(op) if isinstance(op, str) else None
        if handler is None:
            raise RequestError(f"unknown operation {op!r}")
        try:
            return handler(**payload), None
        except RequestError:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a submission is a result
            return None, self._candidate_error(exc)

    def _reply(self, seq: Any, value: Any, error: dict[str, Any] | None) -> None:
        encoder = protocol.Encoder(on_object=self._keep)
        try:
            payload_tree = encoder.encode(value)
        except BaseException as exc:  # noqa: BLE001 - a hostile value may fail to encode
            encoder = protocol.Encoder(on_object=self._keep)
            payload_tree, error = None, self._candidate_error(exc, "the value could not be sent")
        # Flushed after encoding: a repr() taken for a handle may print too.
        _flush_candidate_output()
        events, dropped = self.guard.take_events()
        meta = {
            "seq": seq,
            "status": "error" if error else "ok",
            "error": error,
            "audit": events,
            "audit_dropped": dropped,
        }
        protocol.write_frame(self.reply_fd, protocol.frame(meta, payload_tree, encoder))

    # --- handles ------------------------------------------------------------------------

    def _keep(self, value: Any) -> dict[str, Any]:
        obj = value.obj if type(value) is Keep else value
        handle_id = self.next_handle
        self.next_handle += 1
        self.handles[handle_id] = obj
        return protocol.handle_tree(handle_id, obj)

    def _resolve(self, tree: dict[str, Any]) -> Any:
        handle_id = tree["$h"]
        if handle_id not in self.handles:
            raise RequestError(f"handle {handle_id} is unknown (released, or from another worker)")
        return self.handles[handle_id]

    def _to_device(self, value: Any) -> Any:
        """Incoming tensors go to the worker's device (a no-op on CPU)."""
        if self.device.type == "cpu":
            return value
        if isinstance(value, torch.Tensor):
            return value.to(self.device)
        if type(value) in (list, tuple):
            return type(value)(self._to_device(v) for v in value)
        if type(value) is dict:
            return {k: self._to_device(v) for k, v in value.items()}
        return value

    def _lookup(self, name: str) -> Any:
        """A symbol of the main module, or ``package.module:name`` of another loaded one."""
        if self.module is None:
            raise RequestError("nothing is loaded in this worker")
        module_name, _, symbol = name.rpartition(":")
        if module_name and module_name not in self.module_names:
            raise RequestError(f"{module_name!r} is not a module of this submission")
        namespace = sys.modules.get(module_name) if module_name else self.module
        if namespace is None or symbol not in vars(namespace):
            raise RequestError(f"the submission defines no {name!r}")
        return vars(namespace)[symbol]

    def _target(self, target: Any) -> Any:
        return self._lookup(target) if isinstance(target, str) else target

    # --- operations (each runs with the decoded payload as keyword arguments) ------------

    def op_ping(self) -> None:
        return None

    def op_load(self, modules: dict[str, str], main: str, filename: str | None) -> dict[str, Any]:
        if self.module is not None:
            raise RequestError("this worker already holds a submission; restart for another")
        try:
            outcome = loader.load_modules(modules, main, filename)
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        self.module, self.filenames = outcome.main, outcome.filenames
        warm_up_packages()
        self.module_names = frozenset(modules)
        self.recorder = recorder.Recorder(outcome.main)
        error = self._candidate_error(outcome.error) if outcome.error is not None else None
        return {
            "symbols": loader.describe_symbols(outcome.main),
            "error": error,
            "missing": list(outcome.missing),
            "left_out": [
                {"line": s.line, "package": s.package, "message": s.message[:MESSAGE_CHARS]}
                for s in outcome.left_out
            ],
        }

    def op_symbol(self, name: str) -> Keep:
        return Keep(self._lookup(name))

    def op_new(self, target: Any, args: list[Any], kwargs: dict[str, Any]) -> Keep:
        made = self._target(target)(*args, **kwargs)
        if self.device.type != "cpu" and isinstance(made, torch.nn.Module):
            made.to(self.device)  # in place: where its inputs arrive (`_to_device`)
        return Keep(made)

    def op_torch_new(
        self, name: str, args: list[Any], kwargs: dict[str, Any], params_of: Any
    ) -> Keep:
        if name not in self.constructors:
            raise RequestError(f"{name!r} is not an allowed torch constructor")
        if params_of is not None:
            args = [params_of.parameters(), *args]
        return Keep(self.constructors[name](*args, **kwargs))

    def op_call(self, target: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
        function = self._target(target)
        return function(*args, **roles.rebind(function, args, kwargs))

    def op_call_method(
        self, target: Any, method: str, args: list[Any], kwargs: dict[str, Any]
    ) -> Any:
        function = getattr(self._target(target), method)
        return function(*args, **roles.rebind(function, args, kwargs))

    def op_getattr(self, target: Any, path: str) -> Any:
        obj = self._target(target)
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj

    def op_rebind(self, name: str, value: Any) -> Keep:
        """Bind ``name`` in the submission's main module to ``value`` (a stand-in for a part of
        theirs); returns what was bound before, for the grader to bind back."""
        if self.module is None:
            raise RequestError("nothing is loaded in this worker")
        namespace = vars(self.module)
        if name not in namespace:
            raise RequestError(f"the submission defines no {name!r}")
        previous, namespace[name] = namespace[name], value
        return Keep(previous)

    def op_setattr(self, target: Any, path: str, value: Any) -> None:
        owner_path, _, last = path.rpartition(".")
        owner = self.op_getattr(target, owner_path) if owner_path else self._target(target)
        setattr(owner, last, value)

    def op_state_dict(self, target: Any) -> dict[str, Any]:
        return dict(self._target(target).state_dict())

    def op_load_state_dict(
        self, target: Any, state: dict[str, Any], strict: bool
    ) -> dict[str, Any]:
        result = self._target(target).load_state_dict(state, strict=strict)
        return {
            "missing_keys": list(result.missing_keys),
            "unexpected_keys": list(result.unexpected_keys),
        }

    def op_modules(self, target: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "type_name": type(module).__name__,
                "params": {n: tuple(p.shape) for n, p in module.named_parameters(recurse=False)},
            }
            for name, module in self._target(target).named_modules()
        ]

    def op_record(self, name: str, limit: int) -> None:
        try:
            self._recorder().start(name, limit)
        except KeyError as exc:
            raise RequestError(str(exc.args[0])) from None

    def op_recorded(self, name: str) -> list[dict[str, Any]]:
        try:
            return self._recorder().calls(name)
        except KeyError as exc:
            raise RequestError(str(exc.args[0])) from None

    def op_stop_recording(self, name: str) -> None:
        self._recorder().stop(name)

    def op_run(self, recipe: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if recipe not in recipes.RECIPES:
            raise RequestError(f"there is no recipe {recipe!r}")
        return recipes.RECIPES[recipe](self.ctx, *args, **kwargs)

    def op_release(self, ids: list[int]) -> None:
        for handle_id in ids:
            self.handles.pop(handle_id, None)

    def _recorder(self) -> recorder.Recorder:
        if self.recorder is None:
            raise RequestError("nothing is loaded in this worker")
        return self.recorder

    # --- errors -------------------------------------------------------------------------

    def _candidate_error(self, exc: BaseException, prefix: str = "") -> dict[str, Any]:
        """An exception raised by candidate code, as the grader reports it."""
        kind, message = type(exc).__name__, _safe_str(exc)
        if isinstance(exc, SystemExit):
            message = f"the submission called sys.exit({exc.code!r})"
        elif _out_of_memory(exc):
            kind = "MemoryError"  # torch reports a failed allocation as a RuntimeError
        if prefix:
            message = f"{prefix}: {kind}: {message}"
        return {
            "kind": "candidate",
            "type": kind,
            "message": message[:MESSAGE_CHARS],
            "traceback": _candidate_traceback(exc, self.filenames),
        }


def _request_error(message: str) -> dict[str, Any]:
    return {"kind": "request", "type": "RequestError", "message": message, "traceback": ""}


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - an exception class of the candidate's may break __str__
        return f"<{type(exc).__name__}: str() failed>"


def _out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in _safe_str(exc)


def _candidate_traceback(exc: BaseException, filenames: frozenset[str]) -> str:
    """The traceback with only the candidate's own frames: the worker's and torch's frames
    mean nothing to the candidate and would reveal the harness."""
    try:
        summary = traceback.TracebackException.from_exception(exc)
        frames = [f for f in summary.stack if f.filename in filenames]
        lines = ["Traceback (most recent call last):\n"] if frames else []
        lines += traceback.StackSummary.from_list(frames).format()
        lines += list(summary.format_exception_only())
        text = "".join(lines)
    except Exception:  # noqa: BLE001 - a hostile exception object must not take the worker down
        text = f"{type(exc).__name__}: <traceback unavailable>"
    return text[-TRACEBACK_CHARS:]


def _flush_candidate_output() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - the candidate may have replaced or closed them
            pass


# --- start-up -----------------------------------------------------------------------------


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when the grader dies (the fallback's
    stand-in for bubblewrap's --die-with-parent), and exit if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def apply_limits(limits: dict[str, int | None]) -> None:
    """Lower this process's rlimits (inherited by anything it could start)."""
    cpu = limits["cpu_seconds"]
    if cpu is not None:
        # SIGXCPU at the soft limit (reported as such); SIGKILL a little later.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    for name, key in (
        ("RLIMIT_AS", "memory_bytes"),
        ("RLIMIT_NPROC", "max_processes"),
        ("RLIMIT_FSIZE", "file_size_bytes"),
        ("RLIMIT_NOFILE", "open_files"),
    ):
        value = limits[key]
        if value is not None:
            resource.setrlimit(getattr(resource, name), (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    config = json.loads(sys.argv[1])
    if config.get("parent_pid"):
        die_with_parent(config["parent_pid"])
    os.chdir(config["scratch"])
    torch.set_num_threads(config["threads"])
    ready: dict[str, Any] = {
        "seq": 0,
        "status": "ready",
        "pid": os.getpid(),
        "uid": os.getuid(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    if config["device"].startswith("cuda"):
        ready["cuda"] = torch.cuda.is_available()
        if ready["cuda"]:
            torch.cuda.init()  # as trusted code, before the limits and the hook
    apply_limits(config["limits"])
    for name in config["recipe_modules"]:
        importlib.import_module(name)  # trusted, before any candidate code: registers recipes
    recipes.seed_everything(config["seed"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ready["startup_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    guard = audit.AuditGuard(
        scratch=config["scratch"],
        trusted_roots=tuple(config["trusted_roots"]),
        hidden_roots=tuple(config["hidden_roots"]),
    )
    worker = Worker(config, guard)
    audit.install(guard)
    protocol.write_frame(worker.reply_fd, protocol.frame(ready, None, protocol.Encoder()))
    worker.serve()


if __name__ == "__main__":
    main()
