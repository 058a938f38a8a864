"""Run catalogue entries and record what they compute, for test_catalogue.py.

This file is a script, run as ``python -I -c <this file's text>`` so that catalogue code never
runs inside the pytest process. It reads ``{"entries": {name: source}}`` as JSON on stdin,
executes each source in a fresh namespace, runs every probe below on it and writes
``{name: {probe: {"ok": true, "value": ...} | {"ok": false, "error": "..."}}}`` as JSON on
stdout. Anything the entries print goes to stderr.

The probes are small, fixed, float64 computations chosen so that each bug of the catalogue
shows in at least one of them, and so that correct entries in different styles give the
same numbers: modules get canonical weights (`canonicalise`), whatever their layout.
"""

import contextlib
import json
import sys
import zlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from grader.sandbox.roles import rebind

MASK = "generate_square_subsequent_mask"
VOCAB, D_MODEL, N_HEADS, D_HID, N_LAYERS = 13, 8, 2, 16, 2
"""A tiny model: big enough for two heads and two layers, cheap to run for every entry."""


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def qkv(batch: int, heads: int, len_q: int, len_k: int, head_dim: int) -> list[torch.Tensor]:
    """Query (batch, heads, len_q, head_dim), key and value (batch, heads, len_k, head_dim)."""
    return [
        randn(batch, heads, length, head_dim, seed=seed)
        for seed, length in ((1, len_q), (2, len_k), (3, len_k))
    ]


# --- canonical weights -----------------------------------------------------------------


def seed_of(name: str) -> int:
    """A seed that depends on the parameter's name only, not on creation order."""
    return zlib.crc32(name.encode())


def set_projections(mha: nn.Module, prefix: str) -> None:
    """Give a multi-head attention fixed query/key/value/output weights, in any of the
    catalogue's layouts: four square layers, a fused (3 * dim, dim) layer (rows projection by
    projection, or head by head), a query layer and a fused key/value layer, or one module
    per head; the output layer is always ``linear_cat_attn``."""
    dim = mha.dim
    weights = {role: randn(dim, dim, seed=seed_of(f"{prefix}.{role}")) * 0.5 for role in "qkvo"}
    biases = {role: randn(dim, seed=seed_of(f"{prefix}.{role}.b")) * 0.1 for role in "qkvo"}
    heads, head_dim = mha.n_heads, dim // mha.n_heads
    if hasattr(mha, "linear_qkv"):
        mha.linear_qkv.weight.copy_(torch.cat([weights[r] for r in "qkv"]))  # (3 * dim, dim)
        mha.linear_qkv.bias.copy_(torch.cat([biases[r] for r in "qkv"]))
    elif hasattr(mha, "query_key_value"):  # rows laid out head by head: (heads, 3, head_dim)
        rows = torch.stack([weights[r].view(heads, head_dim, dim) for r in "qkv"], dim=1)
        mha.query_key_value.weight.copy_(rows.reshape(3 * dim, dim))
        bias = torch.stack([biases[r].view(heads, head_dim) for r in "qkv"], dim=1)
        mha.query_key_value.bias.copy_(bias.reshape(3 * dim))
    elif hasattr(mha, "to_kv"):  # a query layer and a fused key/value layer
        mha.to_q.weight.copy_(weights["q"])
        mha.to_q.bias.copy_(biases["q"])
        mha.to_kv.weight.copy_(torch.cat([weights["k"], weights["v"]]))
        mha.to_kv.bias.copy_(torch.cat([biases["k"], biases["v"]]))
    elif hasattr(mha, "heads"):  # one module per head, each a head_dim slice of the rows
        for h, head in enumerate(mha.heads):
            part = slice(h * head_dim, (h + 1) * head_dim)
            for role, layer in zip("qkv", (head.query, head.key, head.value)):
                layer.weight.copy_(weights[role][part])
                layer.bias.copy_(biases[role][part])
    else:
        for role, layer in zip("qkv", (mha.linear_query, mha.linear_key, mha.linear_value)):
            layer.weight.copy_(weights[role])
            layer.bias.copy_(biases[role])
    mha.linear_cat_attn.weight.copy_(weights["o"])
    mha.linear_cat_attn.bias.copy_(biases["o"])


def canonicalise(module: nn.Module, ns: dict[str, Any]) -> nn.Module:
    """float64, eval mode, and weights that depend only on names: the attention modules'
    projections by role, every other parameter by its qualified name."""
    module.double().eval()
    attention_cls = ns["MultiHeadSelfAttention"]
    attention_prefixes = []
    with torch.no_grad():
        for name, sub in module.named_modules():
            if isinstance(sub, attention_cls):
                set_projections(sub, name)
                attention_prefixes.append(f"{name}." if name else "")
        for name, param in module.named_parameters():
            if not any(name.startswith(prefix) for prefix in attention_prefixes):
                param.copy_(randn(*param.shape, seed=seed_of(name)) * 0.5)
    return module


def tiny_model(ns: dict[str, Any]) -> nn.Module:
    model = ns["TransformerModelManualAttn"](VOCAB, D_MODEL, N_HEADS, D_HID, N_LAYERS, 0.1)
    return canonicalise(model, ns)


def tokens(batch: int, seq: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, seq), generator=torch.Generator().manual_seed(4))


# --- probes ----------------------------------------------------------------------------


def forward_shape(ns: dict[str, Any]) -> list[int]:
    """Shape of the logits of a tiny model on (batch 3, seq 5), with the entry's own mask."""
    model = ns["TransformerModelManualAttn"](VOCAB, D_MODEL, N_HEADS, D_HID, N_LAYERS, 0.1).eval()
    return list(model(tokens(3, 5), ns[MASK](5)).shape)


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` with the keywords renamed as the grader's worker does
    (`grader.sandbox.roles`), so entries may call their mask ``attn_mask`` and so on."""
    return function(*args, **rebind(function, args, kwargs))


def attention(ns: dict[str, Any]) -> Any:
    """Attention without a mask."""
    return ns["attention"](*qkv(2, 2, 5, 5, 4)).tolist()


def attention_cross(ns: dict[str, Any]) -> Any:
    """Attention with 3 queries and 6 keys."""
    return ns["attention"](*qkv(1, 2, 3, 6, 4)).tolist()


def attention_masked(ns: dict[str, Any]) -> Any:
    """Attention with the entry's own causal mask for 5 positions."""
    return call(ns["attention"], *qkv(2, 2, 5, 5, 4), mask=ns[MASK](5)).tolist()


def attention_large(ns: dict[str, Any]) -> Any:
    """Attention on logits of order 1e6 (any stable softmax stays finite)."""
    q, k, v = qkv(1, 1, 4, 4, 4)
    return ns["attention"](q * 1e3, k * 1e3, v).tolist()


def dropout_train_changes(ns: dict[str, Any]) -> bool:
    """Whether a Dropout(0.5) module in training mode changes attention's output."""
    q, k, v = qkv(2, 2, 6, 6, 4)
    torch.manual_seed(0)
    dropped = call(ns["attention"], q, k, v, dropout=nn.Dropout(0.5).train())
    return not torch.allclose(dropped, ns["attention"](q, k, v))


def dropout_eval_no_op(ns: dict[str, Any]) -> bool:
    """Whether a Dropout(0.5) module in eval mode leaves attention's output unchanged."""
    q, k, v = qkv(2, 2, 6, 6, 4)
    torch.manual_seed(0)
    dropped = call(ns["attention"], q, k, v, dropout=nn.Dropout(0.5).eval())
    return torch.allclose(dropped, ns["attention"](q, k, v))


def dropout_flat_changes(ns: dict[str, Any]) -> bool:
    """Whether a Dropout(0.5) module in training mode changes attention's output when every
    score is equal (zero queries): dropout on the weights does, on the scores it cannot."""
    _, k, v = qkv(2, 2, 6, 6, 4)
    q = torch.zeros_like(k)  # every score 0
    torch.manual_seed(0)
    dropped = call(ns["attention"], q, k, v, dropout=nn.Dropout(0.5).train())
    return not torch.allclose(dropped, ns["attention"](q, k, v))


def dropout_masked_finite(ns: dict[str, Any]) -> bool:
    """Whether attention with the entry's causal mask and a Dropout(0.5) module in training
    mode stays finite (dropout on the weights does; on the -inf scores it gives NaN)."""
    q, k, v = qkv(2, 2, 6, 6, 4)
    torch.manual_seed(0)
    out = call(ns["attention"], q, k, v, mask=ns[MASK](6), dropout=nn.Dropout(0.5).train())
    return bool(torch.isfinite(out).all())


def mha(ns: dict[str, Any]) -> Any:
    """Multi-head self-attention (dim 8, 2 heads) with the entry's own causal mask."""
    module = canonicalise(ns["MultiHeadSelfAttention"](8, 2), ns)
    x = randn(2, 5, 8, seed=5)  # (batch, seq, dim)
    return module(x, x, x, ns[MASK](5)).tolist()


def mha_trained(ns: dict[str, Any]) -> bool:
    """Whether every parameter of multi-head self-attention gets a non-zero gradient."""
    module = ns["MultiHeadSelfAttention"](8, 2).double()
    x = randn(2, 5, 8, seed=5)  # (batch, seq, dim)
    with torch.enable_grad():  # the probes run without gradients; this one needs them
        module(x, x, x).sum().backward()
    return all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())


def mha_default(ns: dict[str, Any]) -> bool:
    """Construction with only (dim, n_heads)."""
    return isinstance(ns["MultiHeadSelfAttention"](8, 2), nn.Module)


def block(ns: dict[str, Any]) -> Any:
    """An encoder block in eval mode with the entry's own causal mask."""
    attn = ns["MultiHeadSelfAttention"](8, 2, 0.1)
    module = canonicalise(ns["EncoderBlock"](attn, 8, 16, 1e-5, 0.1), ns)
    return module(randn(2, 5, 8, seed=6), ns[MASK](5)).tolist()


def block_random(ns: dict[str, Any]) -> Any:
    """The encoder block (its attention canonicalised, as in `block`) with every other parameter
    random, the norms' too: at ones and zeros two LayerNorms are the same function, so a norm
    applied twice looks like two."""
    attn = ns["MultiHeadSelfAttention"](8, 2, 0.1)
    module = canonicalise(ns["EncoderBlock"](attn, 8, 16, 1e-5, 0.1), ns)
    own = {id(p) for p in attn.parameters()}
    generator = torch.Generator().manual_seed(8)
    for _, parameter in sorted(module.named_parameters()):
        if id(parameter) not in own:
            draw = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            parameter.copy_(draw * 0.5 + 0.1)
    return module(randn(2, 5, 8, seed=6), ns[MASK](5)).tolist()


def model(ns: dict[str, Any]) -> Any:
    """Logits of the tiny model in eval mode with the entry's own causal mask."""
    return tiny_model(ns)(tokens(2, 5), ns[MASK](5)).tolist()


def model_swap(ns: dict[str, Any]) -> float:
    """How much the last position's logits move when tokens 0 and 1 swap, without a mask.

    Without a mask a model with no positional information is permutation-equivariant, so
    the last position cannot see the swap (with a causal mask it could: causal attention
    itself leaks order from the second layer on)."""
    net = tiny_model(ns)
    src = tokens(2, 5)
    src[:, 0], src[:, 1] = 1, 2
    swapped = src[:, [1, 0, 2, 3, 4]]
    return float((net(src, None)[:, -1] - net(swapped, None)[:, -1]).abs().max())


class MaskRecorder(nn.Module):
    """Wraps a model and records the (seq_q, seq_k) shape of every src_mask it is given."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seen: list[list[int] | None] = []

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        # The last two dims only: leading broadcast dims are a matter of style.
        self.seen.append(None if src_mask is None else list(src_mask.shape[-2:]))
        return self.inner(src, src_mask)


class PlainSGD:
    """Just the optimizer and scheduler methods a training loop calls. The probe records
    masks, not learning, and torch.optim's first step costs seconds of lazy imports."""

    def __init__(self, params: list[nn.Parameter], lr: float) -> None:
        self.params, self.lr = params, lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p -= self.lr * p.grad

    def get_last_lr(self) -> list[float]:
        return [self.lr]


class StepRecorder(PlainSGD):
    """PlainSGD that records, at each step, whether zero_grad ran since the last step,
    whether the gradient norm is within the handout's clipping norm (0.5), and whether there
    is any gradient at all (zero_grad between backward and step leaves none)."""

    def __init__(self, params: list[nn.Parameter], lr: float) -> None:
        super().__init__(params, lr)
        self.zeroed, self.steps = False, []

    def zero_grad(self) -> None:
        super().zero_grad()
        self.zeroed = True

    @torch.no_grad()
    def step(self) -> None:
        norms = [p.grad.norm() for p in self.params if p.grad is not None]
        norm = float(torch.stack(norms).norm()) if norms else 0.0
        self.steps.append([self.zeroed, norm <= 0.5 * (1 + 1e-3), norm > 0])
        self.zeroed = False
        super().step()


def train_steps(ns: dict[str, Any]) -> list[list[bool]]:
    """[zero_grad ran since the last step, gradients clipped, gradients nonzero] at each step of the entry's
    train() on one epoch of 14 rows in windows of 4."""
    torch.manual_seed(0)
    net = ns["TransformerModelManualAttn"](VOCAB, D_MODEL, N_HEADS, D_HID, N_LAYERS, 0.1)
    generator = torch.Generator().manual_seed(7)
    data = torch.randint(0, VOCAB, (14, 2), generator=generator)  # (seq, batch)
    sgd = StepRecorder(list(net.parameters()), lr=0.1)
    ns["train"](net, data, 4, nn.CrossEntropyLoss(), VOCAB, sgd, sgd, 0, None, True)
    return sgd.steps


def train_masks(ns: dict[str, Any]) -> list[list[int] | None]:
    """The masks reaching the model during the entry's train(): one epoch of 14 rows in
    windows of 4, so the last window is shorter (1 token)."""
    torch.manual_seed(0)
    net = ns["TransformerModelManualAttn"](VOCAB, D_MODEL, N_HEADS, D_HID, N_LAYERS, 0.1)
    recorder = MaskRecorder(net)
    generator = torch.Generator().manual_seed(7)
    data = torch.randint(0, VOCAB, (14, 2), generator=generator)  # (seq, batch), as batchify makes
    sgd = PlainSGD(list(net.parameters()), lr=0.1)
    ns["train"](recorder, data, 4, nn.CrossEntropyLoss(), VOCAB, sgd, sgd, 0, None, True)
    return recorder.seen


PROBES: dict[str, Callable[[dict[str, Any]], Any]] = {
    probe.__name__: probe
    for probe in (
        forward_shape,
        attention,
        attention_cross,
        attention_masked,
        attention_large,
        dropout_train_changes,
        dropout_eval_no_op,
        dropout_flat_changes,
        dropout_masked_finite,
        mha,
        mha_trained,
        mha_default,
        block,
        block_random,
        model,
        model_swap,
        train_masks,
        train_steps,
    )
}


def run_entry(source: str, name: str) -> dict[str, Any]:
    """Execute one entry and run every probe on it; errors become results."""
    ns: dict[str, Any] = {"__name__": f"catalogue_{name}"}
    try:
        exec(compile(source, f"<catalogue {name}>", "exec"), ns)  # noqa: S102 - running entries is the point
    except Exception as exc:  # noqa: BLE001 - an entry that fails to load is a result
        return {"__load__": {"ok": False, "error": f"{type(exc).__name__}: {exc}"}}
    results: dict[str, Any] = {"__load__": {"ok": True, "value": None}}
    for probe_name, probe in PROBES.items():
        try:
            with (
                torch.no_grad() if not probe_name.startswith("train") else contextlib.nullcontext()
            ):
                results[probe_name] = {"ok": True, "value": probe(ns)}
        except Exception as exc:  # noqa: BLE001 - a probe that raises is a result
            results[probe_name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return results


def main() -> None:
    torch.set_num_threads(1)
    sources: dict[str, str] = json.load(sys.stdin)["entries"]
    with contextlib.redirect_stdout(sys.stderr):
        results = {name: run_entry(source, name) for name, source in sources.items()}
    # NaN is not JSON; allow_nan writes it as NaN, which json.loads reads back.
    json.dump(results, sys.stdout, allow_nan=True)


if __name__ == "__main__":
    main()
