"""Arguments by role: the grader passes ``mask=`` and ``dropout=``, candidates name them their way.

Runs inside the worker (bound read-only next to ``worker.py``) and imports nothing from
``grader``; the grader imports the name lists from here so both sides agree.

The handout's attention is ``attention(query, key, value, mask=None, dropout=None)`` with
``dropout`` an ``nn.Dropout`` module. Honest answers also write ``attn_mask=``,
``dropout_p=0.0`` (a rate, as ``F.scaled_dot_product_attention`` takes), or an unnamed fourth
parameter. A keyword the callable does not take is given to the parameter that plays its role:
one named like it, else the next positional parameter whose name plays no known role. A
dropout module becomes its rate (0 in eval mode) when that parameter takes a number. A role
with the value ``None`` (not given) needs no parameter at all. Anything else is left as it is,
so the call fails with Python's own ``TypeError``, which names the keyword.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

MASK_NAMES = (
    "mask",
    "attn_mask",
    "attention_mask",
    "src_mask",
    "causal_mask",
    "tgt_mask",
    "look_ahead_mask",
    "subsequent_mask",
    "square_subsequent_mask",
    "masks",
    "m",
)
"""Names candidates give the mask parameter (of attention, a block, a model's forward)."""

RATE_NAMES = (
    "dropout_p",
    "p",
    "dropout_rate",
    "rate",
    "dropout_prob",
    "drop_prob",
    "p_drop",
    "p_dropout",
    "attn_pdrop",
    "attn_dropout_p",
)
"""Names of a dropout parameter that takes a probability, not a module."""

DROPOUT_NAMES = (
    "dropout",
    "attn_dropout",
    "drop",
    "dropout_layer",
    "dropout_module",
    "dropout_fn",
    *RATE_NAMES,
)
"""Names candidates give the dropout parameter, module or rate."""

ROLES: dict[str, tuple[str, ...]] = {"mask": MASK_NAMES, "dropout": DROPOUT_NAMES}

_MODULE_CALLS = ("__call__", "_wrapped_call_impl", "_call_impl")
"""What ``module.__call__`` is named, bound: PyTorch routes it to ``forward``."""

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def role_of(name: str) -> str | None:
    """The role a parameter's name plays, if it is one of the names above."""
    return next((role for role, names in ROLES.items() if name in names), None)


def rebind(
    function: Callable[..., Any], args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``kwargs`` renamed for ``function``'s own parameters (see the module docstring)."""
    params = _parameters(function)
    if params is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return kwargs  # no signature to read, or it takes any keyword: pass them as they are
    by_name = {p.name: p for p in params}
    positional = [p for p in params if p.kind in _POSITIONAL]
    free = [p for p in positional[len(args) :] if p.name not in kwargs]
    rebound: dict[str, Any] = {}
    for name, value in kwargs.items():
        role = role_of(name)
        target = by_name.get(name)
        if target is None and role is not None:
            target = _slot_for(role, free)
            if target is None and value is None:
                continue  # "not given" needs no parameter
        if target is None:
            rebound[name] = value  # Python's own TypeError will name it
            continue
        if target in free:
            free.remove(target)
        rebound[target.name] = (
            _as_rate(value) if role == "dropout" and _takes_rate(target) else value
        )
    return rebound


def _parameters(function: Callable[..., Any]) -> list[inspect.Parameter] | None:
    """The parameters a call fills: a module's ``forward`` (called as the module, or through
    its ``__call__``), else the callable itself."""
    owner = getattr(function, "__self__", None)
    if isinstance(owner, nn.Module) and getattr(function, "__name__", "") in _MODULE_CALLS:
        function = owner
    target = function.forward if isinstance(function, nn.Module) else function
    try:
        return list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None


def _slot_for(role: str, free: list[inspect.Parameter]) -> inspect.Parameter | None:
    """The free parameter named for ``role``, else the first free positional one whose name
    plays no known role (the handout's order: query, key, value, mask, dropout)."""
    named = next((p for p in free if p.name in ROLES[role]), None)
    return named or next((p for p in free if role_of(p.name) is None), None)


def _takes_rate(param: inspect.Parameter) -> bool:
    default = param.default
    numeric_default = isinstance(default, int | float) and not isinstance(default, bool)
    return param.name in RATE_NAMES or numeric_default


def _as_rate(value: Any) -> Any:
    """A dropout module as the probability it applies now: its ``p`` in training, 0 in eval."""
    if value is None:
        return 0.0
    if isinstance(value, nn.Dropout):
        return float(value.p) if value.training else 0.0
    return value
