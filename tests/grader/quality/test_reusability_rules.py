"""Each reusability rule fires exactly on the lines marked ``# expect:`` and nowhere else."""

from __future__ import annotations

from textwrap import dedent

import pytest

from grader.quality import QualityConfig, analyse

from .seeds import expected, found, lines_matching

NUMBERS = """
import math
import warnings

import torch
from torch import nn

WINDOW = 35

class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(dim, 4 * dim)  # expect: reuse.magic-number
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(200, dim)  # expect: reuse.magic-number

    def forward(self, x, start: int = 5):  # expect: reuse.unused-parameter
        x = x.permute(0, 2, 1, 4).transpose(1, 3).flatten(start_dim=3)
        x = x[:, :35]  # expect: reuse.magic-number
        x = x * x.shape[3] ** 0.5 / math.sqrt(x.size(3))
        x = x.view(*x.shape[:-2], x.size()[-1] * 2)  # slices of a shape select axes
        x = x.masked_fill(x > 0, -1e9)  # expect: reuse.magic-number
        return x[-1], x[:, 3], -1, x[:WINDOW]

def train(model, data):
    log_interval = 200  # expect: reuse.hardcoded-setting
    total = 0
    start = -1
    rate: float = 0.01  # expect: reuse.hardcoded-setting
    elapsed_ms = (data.end - data.start) * 1000
    print("-" * 89)
    print(f"{total:5.2f} ms/batch {elapsed_ms / 35:.1f}")
    warnings.warn("slow", stacklevel=4)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)  # expect: reuse.magic-number
    for step in range(7):  # expect: reuse.magic-number
        total += step
    return log_interval, rate, start

epochs = 10
scale = 0.8 * epochs
"""

GLOBALS = """
import torch
from torch import nn

MAX_LEN = 512
device = torch.device("cpu")
ntokens = 100
model = nn.Linear(4, 4)
Model = nn.Linear

def helper(x):
    return x

def train(batches, lr: float):
    for x in batches:
        model(x.to(device))  # expect: reuse.notebook-global, reuse.notebook-global
    return helper(lr) + MAX_LEN + len([ntokens for _ in batches])  # expect: reuse.notebook-global

def build():
    return Model(2, 2)

_cache = {}

def cached(n: int):
    return _cache.setdefault(n, n * n)

def outer(scale: float):
    factor = 2 * scale
    def inner(y):
        return y * factor
    return inner

def counter():
    global ntokens
    ntokens = 0  # expect: reuse.notebook-global
"""

DEFAULTS = """
def collect(
    items=[],  # expect: reuse.mutable-default
    seen={},  # expect: reuse.mutable-default
    names=set(),  # expect: reuse.mutable-default
    *,
    extra=list(),  # expect: reuse.mutable-default
    fine=None,
    also=(),
):
    return items, seen, names, extra, fine, also
"""

DUPLICATES = """
def train(model, batches, size: int):
    mask = None
    for batch in batches:
        data, targets = split(batch)
        if data.shape[0] != size:
            mask = build(data.shape[0])
        model(data, mask)

def evaluate(model, batches, size: int):
    mask = None
    for chunk in batches:
        inputs, labels = split(chunk)  # expect: reuse.duplicated-block
        if inputs.shape[0] != size:
            mask = build(inputs.shape[0])
        model(inputs, mask).sum()

def project(self, query, key, value):
    query = self.linear_query(query)
    key = self.linear_key(key)
    value = self.linear_value(value)
    return query, key, value

x = load(1)
y = load(2)
z = load(3)
x = load(1)
y = load(2)
z = load(3)
"""

UNUSED = """
from abc import abstractmethod

import torch
from torch import nn

def train(model, data, window_size: int, device=None, _seed=0, *args, **kwargs):  # expect: reuse.unused-parameter
    for start in range(0, len(data), 35):  # expect: reuse.magic-number
        model(data[start:start + window_size])

def evaluate(model, data, device):
    return model(data.to(device))

def stub(x, y):
    raise NotImplementedError

def documented_stub(x):
    \"\"\"Filled in by the candidate.\"\"\"
    ...

class Block(nn.Module):
    def __init__(self, dim: int, dropout: float = 0.1):  # expect: reuse.unused-parameter
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):  # expect: reuse.unused-parameter
        return self.proj(x)

    def __exit__(self, kind, value, traceback):
        return False

    @staticmethod
    def make(size):
        return torch.zeros(size)

    @abstractmethod
    def step(self, x):
        return 0

def closure(scale):
    return lambda x: x * scale
"""

INLINE_MASKS = """
import torch

def train(model, batches, size: int):
    mask = torch.tril(torch.ones(size, size))
    for x in batches:
        model(x, mask)

def evaluate(model, batches, size: int):
    mask = torch.ones(size, size).tril()  # expect: reuse.inline-mask
    return [model(x, mask) for x in batches]
"""

ONE_MASK_FUNCTION = """
import torch

def causal_mask(size: int, device=None):
    return torch.tril(torch.ones(size, size, device=device))

def train(model, batches, size: int):
    mask = causal_mask(size)
    for x in batches:
        model(x, mask)

def evaluate(model, batches, size: int):
    mask = causal_mask(size)
    return [model(x, mask) for x in batches]

scores = torch.tril(torch.ones(3, 3))
"""


@pytest.mark.parametrize(
    ("snippet", "criterion"),
    [
        (NUMBERS, "reusability"),
        (GLOBALS, "reusability"),
        (DEFAULTS, "reusability"),
        (DUPLICATES, "reusability"),
        (UNUSED, "reusability"),
        (INLINE_MASKS, "reusability"),
    ],
    ids=["numbers", "globals", "defaults", "duplicates", "unused", "inline-masks"],
)
def test_rule_fires_exactly_where_marked(snippet: str, criterion: str) -> None:
    source = dedent(snippet)
    assert expected(source)
    assert found(analyse(source), criterion) == expected(source)


def test_each_global_is_named_once_per_function() -> None:
    report = analyse(dedent(GLOBALS))
    named = sorted((f.symbol, f.message.split("`")[3]) for f in report.by_criterion("reusability"))
    assert named == [
        ("counter", "ntokens"),
        ("train", "device"),
        ("train", "model"),
        ("train", "ntokens"),
    ]


def test_duplicate_points_at_the_first_copy() -> None:
    source = dedent(DUPLICATES)
    (finding,) = analyse(source).by_criterion("reusability")
    assert "repeat lines 5-7" in finding.message
    assert finding.symbol == "evaluate"


def test_module_level_copies_count_when_configured() -> None:
    source = dedent(DUPLICATES)
    config = QualityConfig(duplicates_at_module_level=True)
    lines = {line for _, line in found(analyse(source, config=config), "reusability")}
    second_load = max(lines_matching(source, r"^x = load\(1\)"))
    assert lines == {line for _, line in expected(source)} | {second_load}


def test_allowed_numbers_are_configurable() -> None:
    source = "def f(x):\n    return x[:35]\n"
    assert found(analyse(source), "reusability") == {("reuse.magic-number", 2)}
    config = QualityConfig(allowed_numbers=(-1, 0, 1, 2, 35))
    assert not found(analyse(source, config=config), "reusability")


def test_unused_parameters_are_named() -> None:
    report = analyse(dedent(UNUSED))
    unused = [f for f in report.findings if f.rule == "reuse.unused-parameter"]
    named = sorted((f.symbol, f.message.split("`")[3]) for f in unused)
    assert named == [
        ("Block.__init__", "dropout"),
        ("Block.forward", "mask"),
        ("train", "device"),
    ]


def test_unused_parameter_of_a_handout_function_counts_only_if_the_body_is_theirs() -> None:
    source = dedent(UNUSED)
    signature = lines_matching(source, r"^def train\(")
    body = lines_matching(source, r"for start in|model\(data\[start")
    everything = frozenset(range(1, source.count("\n") + 2))
    given_signature = analyse(source, candidate_lines=everything - signature)
    assert "device" in {
        f.message.split("`")[3]
        for f in given_signature.findings
        if f.rule == "reuse.unused-parameter"
    }
    given_all = analyse(source, candidate_lines=everything - signature - body)
    assert all(
        f.symbol != "train" for f in given_all.findings if f.rule == "reuse.unused-parameter"
    )


def test_one_mask_function_is_not_an_inline_mask() -> None:
    # A function builds the mask and the top-level tril is a single site: nothing to report.
    assert not [
        f for f in analyse(dedent(ONE_MASK_FUNCTION)).findings if f.rule == "reuse.inline-mask"
    ]


def test_inline_mask_lists_every_place() -> None:
    source = dedent(INLINE_MASKS)
    (finding,) = [f for f in analyse(source).findings if f.rule == "reuse.inline-mask"]
    sites = sorted(lines_matching(source, r"tril\("))
    assert f"in 2 places (lines {sites[0]}, {sites[1]})" in finding.message
