"""Each optimisation rule fires exactly on the lines marked ``# expect:`` and nowhere else."""

from __future__ import annotations

from textwrap import dedent

import pytest

from grader.quality import analyse

from .seeds import expected, found

DISCARDED_MOVES = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 4)

def run(data, net: Net, x: torch.Tensor):
    x.to("cpu")  # expect: opt.to-device-discarded
    x = x.to("cpu")
    net.to("cpu")
    net.layer.to("cpu")
    data.float()  # expect: opt.to-device-discarded
    return x

model = Net().to("cpu")
model.to("cpu")
encoder = nn.Sequential(nn.Linear(2, 2))
encoder.cpu()
tokens = torch.arange(10)
tokens.to("cpu")  # expect: opt.to-device-discarded
batches = torch.stack([tokens, tokens]).view(2, -1).t()
batches.to("cpu")  # expect: opt.to-device-discarded
"""

DEVICES = """
import torch

device = "cuda"  # expect: opt.hardcoded-device
other = torch.device("mps")  # expect: opt.hardcoded-device
chosen = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
if torch.backends.mps.is_available():
    chosen = torch.device("mps")
cpu = torch.device("cpu")
on_gpu = chosen.type == "cuda"
x = torch.zeros(3).cuda()  # expect: opt.hardcoded-device
flagged = "cuda" if on_gpu else "cpu"
options = {"choices": ("cpu", "cuda"), "stats": {"cuda": 0}}
is_gpu = str(chosen).startswith("cuda")

def run(x, device="mps"):  # expect: opt.hardcoded-device
    return x.to("cuda")  # expect: opt.hardcoded-device
"""

MASKS = """
import torch

def train(model, batches, size: int, use_mask: bool):
    mask = torch.tril(torch.ones(size, size))
    for x in batches:
        step_mask = torch.triu(torch.ones(size, size), diagonal=1)  # expect: opt.mask-in-loop
        if use_mask:
            flag_mask = generate_square_subsequent_mask(size)  # expect: opt.mask-in-loop
        if x.shape[0] != size:
            mask = torch.tril(torch.ones(x.shape[0], x.shape[0]))
        if mask is None:
            mask = generate_square_subsequent_mask(size)
        mask = cached_mask(mask, x.size(0))
        scores = model(x).masked_fill(mask == 0, float("-inf"))
        noise = torch.zeros(size).to(x.device)  # expect: opt.create-then-move
        made_there = torch.zeros(size, device=x.device)
        moved_data = x.to("cpu")
    return scores, step_mask, flag_mask, noise, made_there, moved_data

def generate_square_subsequent_mask(size: int):
    return torch.triu(torch.ones(size, size), diagonal=1)

def window_mask(full_mask, length: int):
    return full_mask[:length, :length]

def run_windows(model, batches, size: int):
    full_mask = generate_square_subsequent_mask(size)
    for x in batches:
        style = MaskStyle("bool")
        model(x, window_mask(full_mask, x.size(0)), style)
"""

MASK_CACHES = """
import functools

import torch

_masks = {}

def cached_mask(n: int):
    if n not in _masks:
        _masks[n] = torch.tril(torch.ones(n, n))
    return _masks[n]

@functools.lru_cache(maxsize=None)
def memo_mask(n: int):
    return torch.tril(torch.ones(n, n))

def fresh_mask(n: int):
    if n < 1:
        raise ValueError(n)
    return torch.tril(torch.ones(n, n))

class Model(torch.nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.mask = None
        self.register_buffer("full_mask", torch.tril(torch.ones(size, size)))

    def window_mask(self, n: int):
        if self.mask is None or self.mask.size(0) < n:
            self.mask = torch.tril(torch.ones(n, n))
        return self.mask[:n, :n]

def train(model: Model, batches, full_mask):
    for x in batches:
        n = x.size(1)
        model(x, full_mask[:n, :n])
        model(x, model.full_mask[:n, :n])
        model(x, cached_mask(n))
        model(x, memo_mask(n))
        model(x, model.window_mask(n))
        model(x, fresh_mask(n))  # expect: opt.mask-in-loop
        model(x, full_mask[:n, :n].tril())  # expect: opt.mask-in-loop
"""

HEADS = """
import torch
from torch import nn

class LoopedHeads(nn.Module):
    def __init__(self, dim: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.heads = nn.ModuleList([nn.Linear(dim, dim) for _ in range(n_heads)])
        self.layers = nn.ModuleList([nn.Linear(dim, dim) for _ in range(n_heads)])

    def forward(self, x):
        outs = [head(x) for head in self.heads]  # expect: opt.head-loop
        for h in range(self.n_heads):  # expect: opt.head-loop
            x = x + outs[h]
        for layer in self.layers:
            x = layer(x)
        return x

def multi_head_attention(q, k, v, num_heads: int):
    return torch.cat([q[i] @ k[i] for i in range(num_heads)]) @ v  # expect: opt.head-loop
"""

ITEMS = """
import torch

def train(model, batches, optimizer):
    total = 0.0
    for step, (x, y) in enumerate(batches):
        loss = model(x, y)
        loss.backward()
        optimizer.step()
        total += loss.item()  # expect: opt.item-every-step
        if step % 100 == 0:
            print(loss.item())
    return total

def evaluate(model, batches):
    return [model(x, y).item() for x, y in batches]  # expect: opt.eval-without-no-grad

def train_step(model, x, optimizer):
    loss = model(x)
    loss.backward()
    optimizer.step()
    return loss

def fit(model, batches, optimizer, epochs: int):
    history = []
    for _ in range(epochs):
        for x in batches:
            loss = train_step(model, x, optimizer)
            history.append(loss.item())  # expect: opt.item-every-step
            ids = x.argmax(-1).tolist()  # expect: opt.item-every-step
        history.append(loss.item())
    return history, ids

def evaluate_epoch(model, batches):
    total = 0.0
    with torch.no_grad():
        for x in batches:
            total += model(x).item()
    return total
"""

EVALUATION = """
import torch

def evaluate(model, batches):
    model.eval()
    return [model(x) for x in batches]  # expect: opt.eval-without-no-grad

def validate(net, batches, criterion):
    losses = []
    for x, y in batches:
        losses.append(criterion(net(x), y))  # expect: opt.eval-without-no-grad
    return losses

def evaluate_guarded(model, batches):
    model.eval()
    with torch.no_grad():
        return [model(x) for x in batches]

@torch.no_grad()
def evaluate_decorated(model, batches):
    model.eval()
    return [model(x) for x in batches]

def fit(model, batches, optimizer):
    model.train()
    for x in batches:
        model(x).sum().backward()
        optimizer.step()
    model.eval()
    with torch.inference_mode():
        return model(batches[0])

def validate_forward(net: torch.nn.Module, x):
    return net.forward(x)  # expect: opt.eval-without-no-grad

def epoch(model, batches):
    model.eval()
    first = model(batches[0])  # expect: opt.eval-without-no-grad
    model.train()
    return first, model(batches[1])
"""


@pytest.mark.parametrize(
    "snippet",
    [DISCARDED_MOVES, DEVICES, MASKS, MASK_CACHES, HEADS, ITEMS, EVALUATION],
    ids=["discarded-moves", "devices", "masks", "mask-caches", "heads", "items", "evaluation"],
)
def test_rule_fires_exactly_where_marked(snippet: str) -> None:
    source = dedent(snippet)
    assert expected(source)  # every snippet marks at least one line
    assert found(analyse(source), "optimisation") == expected(source)


def test_unknown_receiver_is_flagged_with_a_hedge() -> None:
    report = analyse(dedent(DISCARDED_MOVES))
    by_line = {f.line: f for f in report.by_criterion("optimisation")}
    data_line = next(line for line, f in by_line.items() if "data.float()" in f.message)
    assert by_line[data_line].severity == "minor"  # `data` could be anything
    assert "possibly throws its result away: if `data` is a tensor" in by_line[data_line].message
    known = [f for f in by_line.values() if "tokens.to" in f.message]
    assert [f.severity for f in known] == ["major"]
    assert "possibly" not in known[0].message


UNPACKED = """
from typing import Tuple

import torch
from torch import Tensor

def get_batch(source: Tensor, i: int) -> Tuple[Tensor, Tensor]:
    return source[i], source[i + 1]

def pair(source):
    return source, source

def make_mask(n: int):
    return torch.triu(torch.ones(n, n), diagonal=1)

def train(source: Tensor, device: torch.device):
    data, targets = get_batch(source, 0)
    first, second = pair(source)
    left, right = source[0], torch.nn.Linear(2, 2)
    mask = make_mask(3)
    data.to(device)
    targets.to(device)
    first.to(device)
    left.to(device)
    right.to(device)
    mask.to(device)
"""


def test_unpacked_receivers_take_the_kind_the_code_gives_them() -> None:
    source = dedent(UNPACKED)
    severities = {
        f.message.split("`")[1].split(".")[0]: f.severity
        for f in analyse(source).by_criterion("optimisation")
    }
    # `-> Tuple[Tensor, Tensor]`, a tuple written out and what `make_mask` returns are known;
    # `pair` returns a tuple it does not annotate; the module `right` moves in place.
    assert severities == {
        "data": "major",
        "targets": "major",
        "first": "minor",
        "left": "major",
        "mask": "major",
    }


def test_item_message_states_the_rule() -> None:
    (item, *_) = [f for f in analyse(dedent(ITEMS)).findings if f.rule == "opt.item-every-step"]
    assert "every training step" in item.message and "when logging" in item.message
    assert item.severity == "minor"


def test_findings_name_their_function_and_criterion() -> None:
    report = analyse(dedent(HEADS))
    assert {f.symbol for f in report.by_criterion("optimisation")} == {
        "LoopedHeads.forward",
        "multi_head_attention",
    }
    assert all(f.criterion == "optimisation" for f in report.findings if f.rule.startswith("opt."))
