"""Record the calls a submission makes to one of its own functions or methods.

Runs inside the worker; imports nothing from ``grader``. The checks use it to see what
reaches a function during someone else's call: which mask ``attention`` received inside
``MultiHeadSelfAttention.forward``, whether the training loop passed a mask to the model.

Recording replaces the symbol with a wrapper: a module global (``attention``) in the main
module's namespace, which every later global lookup in that module sees, or a method on its
class (``MultiHeadSelfAttention.forward``). The arguments are bound to the parameter names
and tensors are cloned at call time, so a function that later modifies its input in place
does not change what was recorded. ``stop`` puts the original back.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Recording:
    """One recorded symbol: where the original lives and the calls seen so far."""

    owner: Any
    """The module or class whose attribute was replaced."""
    attribute: str
    original_raw: Any
    """The attribute exactly as it was in the owner's ``__dict__`` (None when inherited)."""
    limit: int
    calls: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0


class Recorder:
    """The recordings active in one worker, by symbol name."""

    def __init__(self, namespace: types.ModuleType) -> None:
        self.namespace = namespace
        self.active: dict[str, Recording] = {}

    def start(self, name: str, limit: int) -> None:
        if name in self.active:
            self.active[name].calls.clear()
            return
        owner, attribute = self._locate(name)
        raw = vars(owner).get(attribute)
        original = getattr(owner, attribute)
        recording = Recording(owner, attribute, raw, limit)
        wrapper = _wrap(_unwrap_descriptor(raw, original), recording)
        # staticmethod/classmethod must stay what they were, or binding changes.
        if isinstance(raw, staticmethod):
            wrapper = staticmethod(wrapper)
        elif isinstance(raw, classmethod):
            wrapper = classmethod(wrapper)
        setattr(owner, attribute, wrapper)
        self.active[name] = recording

    def calls(self, name: str) -> list[dict[str, Any]]:
        if name not in self.active:
            raise KeyError(f"{name!r} is not being recorded")
        return list(self.active[name].calls)

    def stop(self, name: str) -> None:
        recording = self.active.pop(name, None)
        if recording is None:
            return
        if recording.original_raw is None:
            delattr(recording.owner, recording.attribute)  # it was inherited: unshadow
        else:
            setattr(recording.owner, recording.attribute, recording.original_raw)

    def _locate(self, name: str) -> tuple[Any, str]:
        """(owner, attribute) for ``func`` or ``Class.method``."""
        head, _, method = name.partition(".")
        if head not in vars(self.namespace):
            raise KeyError(f"the submission defines no {head!r}")
        if not method:
            return self.namespace, head
        owner = vars(self.namespace)[head]
        if not inspect.isclass(owner) or "." in method or not hasattr(owner, method):
            raise KeyError(f"{name!r} is not a method of a class")
        return owner, method


def _unwrap_descriptor(raw: Any, fallback: Any) -> Callable[..., Any]:
    if isinstance(raw, (staticmethod, classmethod)):
        return raw.__func__
    return raw if raw is not None else fallback


def _wrap(function: Callable[..., Any], recording: Recording) -> Callable[..., Any]:
    try:
        signature: inspect.Signature | None = inspect.signature(function)
    except (TypeError, ValueError):
        signature = None

    @functools.wraps(function)
    def recorded(*args: Any, **kwargs: Any) -> Any:
        entry = _bind(signature, args, kwargs) if len(recording.calls) < recording.limit else None
        if entry is None:
            recording.dropped += 1
        else:
            # Recorded before the call: a call that raises (a shape error in the candidate's
            # loop) is often the very one the grader needs to see.
            recording.calls.append(entry)
        result = function(*args, **kwargs)
        if entry is not None:
            entry["return"] = _snapshot(result)  # "return" is a keyword: no parameter has it
        return result

    return recorded


def _bind(signature: inspect.Signature | None, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Arguments by parameter name (``args``/``kwargs`` when the signature is unknown)."""
    if signature is not None:
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return {k: _snapshot(v) for k, v in bound.arguments.items()}
        except TypeError:
            pass  # the call itself will raise the candidate's own TypeError
    return {"args": _snapshot(list(args)), "kwargs": _snapshot(dict(kwargs))}


def _snapshot(value: Any) -> Any:
    """Clone tensors (in containers too) so later in-place changes do not alter the record."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if type(value) in (list, tuple):
        return type(value)(_snapshot(v) for v in value)
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    return value
