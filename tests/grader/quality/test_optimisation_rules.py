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
    [DISCARDED_MOVES, DEVICES, MASKS, HEADS, ITEMS, EVALUATION],
    ids=["discarded-moves", "devices", "masks", "heads", "items", "evaluation"],
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
    assert "if `data` is a tensor" in by_line[data_line].message


def test_findings_name_their_function_and_criterion() -> None:
    report = analyse(dedent(HEADS))
    assert {f.symbol for f in report.by_criterion("optimisation")} == {
        "LoopedHeads.forward",
        "multi_head_attention",
    }
    assert all(f.criterion == "optimisation" for f in report.findings if f.rule.startswith("opt."))
