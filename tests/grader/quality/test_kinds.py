"""The tensor-or-module guess behind ``opt.to-device-discarded``."""

from __future__ import annotations

import ast
from textwrap import dedent

import pytest

from grader.quality.kinds import Kinds
from grader.quality.source import Program

PROGRAM = """
import copy

import torch
from torch import Tensor, nn

class Encoder(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.scale = torch.ones(dim)
        self.name = "encoder"

class Deeper(Encoder):
    def forward(self, x):
        self.scale = self.scale.to(x.device)
        return x

def step(model, net: Encoder, x: Tensor, y, weights: "Tensor", head: nn.Module):
    probe = 0
    return probe

encoder = Encoder(4)
copied = copy.deepcopy(encoder)
moved = Deeper(4).to("cpu")
data = torch.arange(10)
shaped = data.view(2, 5).t()
scaled = data * 2
mystery = load()
my_model = load()
"""


@pytest.fixture(scope="module")
def kinds() -> tuple[Kinds, Program]:
    program = Program.parse(dedent(PROGRAM))
    return Kinds(program), program


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("encoder", "module"),  # constructs a class deriving from nn.Module
        ("copied", "module"),  # a deep copy of one
        ("moved", "module"),  # a subclass of one, moved in place
        ("data", "tensor"),  # a torch function's result
        ("shaped", "tensor"),  # a tensor's method chain
        ("scaled", "tensor"),  # arithmetic on a tensor
        ("mystery", "unknown"),  # nothing says
        ("my_model", "module"),  # ... but the name does
    ],
)
def test_module_level_names(kinds, name: str, kind: str) -> None:
    oracle, program = kinds
    assert oracle.of_name(name, program.tree) == kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [("model", "module"), ("net", "module"), ("x", "tensor"), ("y", "unknown"),
     ("weights", "tensor"), ("head", "module"), ("encoder", "module")],
)  # fmt: skip
def test_parameters_by_annotation_name_and_global(kinds, name: str, kind: str) -> None:
    oracle, program = kinds
    step = next(f for f in program.functions() if f.name == "step")
    assert oracle.of_name(name, step) == kind


@pytest.mark.parametrize(
    ("attribute", "kind"), [("proj", "module"), ("scale", "tensor"), ("name", "unknown")]
)
def test_attributes_of_self_and_of_modules(kinds, attribute: str, kind: str) -> None:
    oracle, program = kinds
    init = next(f for f in program.functions() if f.name == "__init__")
    assert oracle.of_expr(ast.parse(f"self.{attribute}", mode="eval").body, init) == kind
    assert oracle.of_expr(ast.parse(f"encoder.{attribute}", mode="eval").body, program.tree) == kind


def test_self_referential_assignments_keep_their_kind(kinds) -> None:
    oracle, program = kinds
    forward = next(f for f in program.functions() if f.name == "forward")
    assert oracle.of_expr(ast.parse("self.scale", mode="eval").body, forward) == "tensor"


def test_factory_functions_named_like_models_are_not_modules() -> None:
    program = Program.parse("def small_model(seed):\n    return seed\n")
    assert Kinds(program).of_name("small_model", program.tree) == "unknown"
