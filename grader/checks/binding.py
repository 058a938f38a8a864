"""Calling the candidate's classes and functions with arguments bound by parameter NAME.

Open questions get answers with different signatures: ``PositionalEncoding(seq_len,
d_model)``, ``LearnablePositionalEncoding(d_model, max_len=512, dropout=0.1)``,
``create_dummy_data(n, seq_len, dim)``. Each parameter name is read as a role (`ROLE_NAMES`)
the grader can supply a value for; only required parameters whose names say nothing take the
handout's order. The parameters come from the worker's description of the loaded module
(``LoadReport.symbols``), so nothing of the candidate's runs to find them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grader.checks.base import Violation

ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "max_len": (
        "max_len",
        "seq_len",
        "max_seq_len",
        "num_positions",
        "n_positions",
        "max_length",
        "seq_length",
        "sequence_length",
        "max_positions",
        "max_position_embeddings",
        "max_sequence_length",
        "max_seq_length",
        "context_length",
        "context_size",
        "block_size",
        "length",
        "maxlen",
        "seqlen",
        "n_pos",
        "num_pos",
        "positions",
        "n_ctx",
        "window_size",
    ),
    "d_model": (
        "d_model",
        "dim",
        "embed_dim",
        "embedding_dim",
        "emb_dim",
        "embed_size",
        "embedding_size",
        "hidden_size",
        "model_dim",
        "d_embed",
        "n_embd",
        "d_emb",
        "d",
        "dmodel",
        "emsize",
        "features",
        "num_features",
        "n_features",
        "feature_dim",
        "input_dim",
        "in_features",
        "d_in",
        "input_size",
        "dimension",
    ),
    "n_heads": (
        "n_heads",
        "num_heads",
        "nhead",
        "nheads",
        "heads",
        "n_head",
        "num_attention_heads",
        "attention_heads",
    ),
    "dropout": (
        "dropout",
        "dropout_rate",
        "dropout_p",
        "p_dropout",
        "drop_prob",
        "dropout_prob",
        "p",
        "attn_dropout",
    ),
    "n_layers": (
        "n_layers",
        "num_layers",
        "nlayers",
        "layers",
        "depth",
        "n_blocks",
        "num_blocks",
        "num_encoder_layers",
    ),
    "out_dim": (
        "output_dim",
        "out_dim",
        "out_features",
        "n_outputs",
        "num_outputs",
        "output_size",
        "d_out",
        "out_size",
    ),
    "d_ff": (
        "d_ff",
        "dim_feedforward",
        "d_hid",
        "ff_dim",
        "ffn_dim",
        "hidden_dim",
        "d_hidden",
        "feedforward_dim",
        "mlp_dim",
        "dim_ff",
    ),
    "n_samples": (
        "batch_size",
        "n",
        "num_samples",
        "n_samples",
        "n_train",
        "num_examples",
        "n_examples",
        "size",
        "samples",
        "num_sequences",
        "n_sequences",
        "batch",
        "count",
        "num",
        "dataset_size",
        "num_data",
        "n_data",
        "number_of_samples",
    ),
    "seed": ("seed", "random_seed", "random_state"),
    "vocab_size": ("vocab_size", "ntoken", "ntokens", "n_tokens", "num_tokens", "vocab"),
    "n_classes": ("num_classes", "n_classes", "classes", "n_labels", "num_labels"),
}
"""Parameter names candidates give each quantity the grader can supply (compared lower-case)."""


def role_of(name: str, roles: dict[str, tuple[str, ...]] | None = None) -> str | None:
    """The quantity a parameter's name stands for, if the grader knows it (in ``roles``, by
    default `ROLE_NAMES`)."""
    lowered = name.lower()
    table = ROLE_NAMES if roles is None else roles
    return next((role for role, names in table.items() if lowered in names), None)


def bind(
    params: Sequence[Any] | None,
    values: dict[str, Any],
    order: Sequence[str],
    roles: dict[str, tuple[str, ...]] | None = None,
) -> tuple[list[Any], dict[str, Any]] | str:
    """Arguments for a callable with ``params`` (``ParamInfo``s): each parameter gets the
    value of the role its name names (in ``roles``, by default `ROLE_NAMES`); required
    parameters with unknown names take the remaining roles in ``order`` (the handout's);
    ``None`` params (no signature known) take ``order`` positionally. A sentence saying what
    is missing when it cannot be called. Every kind binds arguments with this one function."""
    if params is None:
        return [values[role] for role in order if role in values], {}
    plan: list[tuple[Any, str | None]] = []
    used: set[str] = set()
    for param in params:
        if param.kind.lower() in ("var_positional", "var_keyword"):
            continue
        role = role_of(param.name, roles)
        if role in values and role not in used:
            used.add(role)
            plan.append((param, role))
        else:
            plan.append((param, None))
    spare = [role for role in order if role in values and role not in used]
    for i, (param, role) in enumerate(plan):
        if role is None and not param.has_default and role_of(param.name, roles) is None and spare:
            plan[i] = (param, spare.pop(0))
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param, role in plan:
        if role is None:
            if not param.has_default:
                return f"no value for its parameter {param.name!r}"
        elif param.kind.lower() == "positional_only":
            args.append(values[role])
        else:
            kwargs[param.name] = values[role]
    return args, kwargs


def params_of(symbols: dict[str, Any], name: str | None) -> Sequence[Any] | None:
    """The parameters of the candidate's symbol ``name`` as the worker reported them
    (``LoadReport.symbols``); None when unknown."""
    info = symbols.get(name) if name else None
    return getattr(info, "params", None)


def construct(
    worker: Any,
    name: str,
    params: Sequence[Any] | None,
    values: dict[str, Any],
    order: Sequence[str],
) -> Any:
    """A handle to ``name(...)`` built with arguments bound by `bind`, in eval mode.
    Raises `Violation` when the constructor has a parameter the grader cannot fill."""
    bound = bind(params, values, order)
    if isinstance(bound, str):
        supplied = ", ".join(f"{role}={values[role]}" for role in order if role in values)
        raise Violation(
            f"cannot build your {name}: {bound} (the grader supplies {supplied}, by parameter name)"
        )
    args, kwargs = bound
    handle = worker.new(name, *args, **kwargs)
    worker.call_method(handle, "eval")  # dropout off: outputs are deterministic
    return handle


def order_of(options: Any, default: str) -> tuple[str, ...]:
    """The handout's argument order from a task's ``init`` option, as role names."""
    init = getattr(options, "init", None) or default
    names = [n.strip() for n in init.split(",") if n.strip()]
    return tuple(role_of(n) or n for n in names)
