"""Trusted routines for the positional-encoding test, run inside the worker (imports nothing
from ``grader``).

They describe the candidate's encoding module (its parameters and buffers), randomise its
weights, back-propagate through it, train the candidate's model on the dummy task the grader
sends, and call the candidate's dummy-data function. They return raw values only: every
verdict (is it learnable, did the validation error fall, do the targets depend on the inputs)
is reached by the grader from what comes back.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from recipes import Context, recipe
from torch import nn

INPUT_KEYS = ("x", "inputs", "input", "features", "data", "src", "train_x", "x_train")
TARGET_KEYS = ("y", "targets", "target", "labels", "label", "tgt", "train_y", "y_train")
"""Names under which a dummy-data function's result may hold its inputs and its targets
(compared without case), for results that are dicts or objects rather than (X, y) pairs."""


@recipe
def positional_parameters(ctx: Context, module: nn.Module) -> dict[str, Any]:
    """What the module stores: trainable and frozen parameters, buffers, and plain tensor
    attributes (a table kept as ``self.pe = torch.randn(...)`` is neither trained nor saved)."""
    return {
        "trainable": [[n, list(p.shape)] for n, p in module.named_parameters() if p.requires_grad],
        "frozen": [[n, list(p.shape)] for n, p in module.named_parameters() if not p.requires_grad],
        "buffers": [[n, list(b.shape)] for n, b in module.named_buffers()],
        "plain_tensors": [
            [f"{prefix}.{n}".lstrip("."), list(v.shape)]
            for prefix, sub in module.named_modules()
            for n, v in vars(sub).items()
            if isinstance(v, torch.Tensor) and not isinstance(v, nn.Parameter)
        ],
    }


@recipe
def positional_randomize(ctx: Context, module: nn.Module, seed: int, std: float) -> None:
    """Overwrite every floating-point parameter with N(0, std^2) draws, so a property is judged
    on the module's structure rather than on its initial values (a table initialised to zeros
    is the same at every position until it is trained)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if parameter.is_floating_point():
                draw = torch.randn(parameter.shape, generator=generator) * std
                parameter.copy_(draw.to(parameter.device, parameter.dtype))


@recipe
def positional_grads(
    ctx: Context, module: nn.Module, x: torch.Tensor, seed: int
) -> dict[str, torch.Tensor | None]:
    """Back-propagate a random projection of ``module(x)`` and return each trainable
    parameter's gradient (None where the output does not reach it). A random projection
    rather than the plain sum: the sum of a normalised output has no gradient at all."""
    module.to(ctx.device).zero_grad(set_to_none=True)
    output = module(x.to(ctx.device))
    if isinstance(output, (tuple, list)):
        output = output[0]
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(output.shape, generator=generator).to(output.device, output.dtype)
    (output * weights).sum().backward()
    return {
        name: None if p.grad is None else p.grad.detach().float().cpu()
        for name, p in module.named_parameters()
        if p.requires_grad
    }


def per_sequence(output: Any, n: int) -> torch.Tensor:
    """The model's output as one number per sequence, (n,): (n, 1) loses its trailing axis;
    any other shape is refused with the shape named."""
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        output = output[0]  # (prediction, attention weights) pairs
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"the model returned {type(output).__name__}, expected a tensor")
    if tuple(output.shape) == (n, 1):
        return output[:, 0]  # (n,)
    if tuple(output.shape) != (n,):
        raise ValueError(
            f"the model returned shape {tuple(output.shape)} for {n} sequences; the dummy task "
            f"needs one prediction per sequence, ({n},) or ({n}, 1)"
        )
    return output


class PositionalTrainer:
    """Adam on minibatches of the training set the grader sent, as the reference trains;
    ``steps`` continues where the previous call stopped."""

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        lr: float,
        batch_size: int,
        seed: int,
        device: torch.device,
    ) -> None:
        self.model = model.to(device)
        self.x, self.y = x.to(device), y.to(device)  # (n, seq, d_model), (n,)
        self.batch_size = batch_size
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.generator = torch.Generator().manual_seed(seed)

    def steps(self, count: int) -> list[float]:
        """Train ``count`` steps; returns each step's training MSE."""
        self.model.train()
        losses = []
        for _ in range(count):
            batch = torch.randint(self.x.size(0), (self.batch_size,), generator=self.generator)
            batch = batch.to(self.x.device)
            prediction = per_sequence(self.model(self.x[batch]), self.batch_size)  # (batch,)
            loss = F.mse_loss(prediction.float(), self.y[batch])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(float(loss.detach()))
        return losses


@recipe
def positional_trainer(
    ctx: Context,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    batch_size: int,
    seed: int,
) -> PositionalTrainer:
    """A trainer for ``model`` on (x, y); the grader calls its ``steps`` chunk by chunk."""
    return PositionalTrainer(model, x, y, lr, batch_size, seed, ctx.device)


@recipe
def positional_predict(ctx: Context, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One prediction per sequence of ``x`` (n,), in eval mode without gradients."""
    model.to(ctx.device).eval()
    with torch.no_grad():
        return per_sequence(model(x.to(ctx.device)), x.size(0)).float().cpu()


# --- the candidate's dummy data ----------------------------------------------------------


@recipe
def positional_dummy_data(
    ctx: Context, function: Any, kwargs: dict[str, Any], args: list[Any], limit: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Call the candidate's dummy-data function and return at most ``limit`` samples of its
    (inputs, targets), as float tensors on the CPU, whatever container they came in."""
    inputs, targets = input_target_pair(function(*args, **kwargs), limit)
    return inputs[:limit].detach().float().cpu(), targets[:limit].detach().float().cpu()


def input_target_pair(result: Any, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) from the usual containers: an (X, y) pair, (X_train, X_val, y_train,
    y_val), a dict, a TensorDataset, any Dataset of (x, y) items, a DataLoader, or an object
    with ``X``/``y``-like attributes."""
    if _tensor(result) is not None:
        raise TypeError("it returned a single tensor; expected inputs and targets, e.g. (X, y)")
    if isinstance(result, dict):
        return _from_mapping(result)
    if isinstance(result, (tuple, list)):
        return _from_sequence(result)
    if isinstance(getattr(result, "tensors", None), tuple):  # TensorDataset
        return _from_sequence(result.tensors)
    if hasattr(result, "__getitem__") and hasattr(result, "__len__"):  # a map-style Dataset
        items = [result[i] for i in range(min(len(result), limit))]
        return _stack_items(items)
    if isinstance(result, torch.utils.data.DataLoader):
        batches = []
        for batch in result:
            batches.append(
                _from_sequence(batch) if isinstance(batch, (tuple, list)) else _from_mapping(batch)
            )
            if sum(b[0].size(0) for b in batches) >= limit:
                break
        return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    attributes = {k: v for k, v in vars(result).items()} if hasattr(result, "__dict__") else {}
    return _from_mapping(attributes)


def _tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        return torch.as_tensor(value)
    return None


def _from_sequence(values: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The first tensor is the inputs; the targets are the first later tensor with as many
    rows and another shape (so (X_train, X_val, y_train, y_val) pairs X_train with y_train)."""
    tensors = [t for t in (_tensor(v) for v in values) if t is not None and t.dim() > 0]
    if len(tensors) < 2:
        raise TypeError(
            f"expected inputs and targets, got {len(tensors)} tensor(s) in a {type(values).__name__}"
        )
    inputs, rest = tensors[0], tensors[1:]
    same_rows = [t for t in rest if t.size(0) == inputs.size(0)]
    targets = next(
        (t for t in same_rows if t.shape != inputs.shape), same_rows[0] if same_rows else None
    )
    if targets is None:
        raise ValueError(f"no targets with as many rows as the inputs {tuple(inputs.shape)}")
    return inputs, targets


def _from_mapping(values: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    by_key = {str(k).lower(): _tensor(v) for k, v in values.items()}
    inputs = next((by_key[k] for k in INPUT_KEYS if by_key.get(k) is not None), None)
    targets = next((by_key[k] for k in TARGET_KEYS if by_key.get(k) is not None), None)
    if inputs is None or targets is None:
        raise TypeError(f"could not find inputs and targets among {sorted(by_key)[:10]}")
    return inputs, targets


def _stack_items(items: list[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """A Dataset's (x, y) items, stacked: (n, ...) inputs and (n, ...) targets."""
    pairs = [item[:2] if isinstance(item, (tuple, list)) else _from_mapping(item) for item in items]
    return (
        torch.stack([torch.as_tensor(p[0]) for p in pairs]),
        torch.stack([torch.as_tensor(p[1]) for p in pairs]),
    )
