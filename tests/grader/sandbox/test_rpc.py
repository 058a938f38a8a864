"""The client API against a real worker: values, handles, errors, recording, recipes."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
import torch

from grader.config import SandboxLimits
from grader.sandbox import (
    CandidateError,
    Handle,
    RequestError,
    Sandbox,
    StaleHandle,
    WorkerDead,
    WorkerTimeout,
)
from grader.sandbox.protocol import DTYPES

from .conftest import TEST_LIMITS, SandboxFactory

pytestmark = pytest.mark.sandbox

SUBMISSION = """
import sys
import time

import torch
from torch import nn


def attention(query, key, value, mask=None, dropout=None):
    scores = query @ key.transpose(-2, -1) / query.size(-1) ** 0.5
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    weights = scores.softmax(-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value


class TinyBlock(nn.Module):
    def __init__(self, dim, hidden=8, dropout=None):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, x, mask=None):
        q = self.proj(x).unsqueeze(1)
        return self.ff(attention(q, q, q, mask).squeeze(1))

    def describe(self, prefix="block"):
        return f"{prefix}:{self.proj.in_features}"


def fails_deep(n):
    return _helper(n)


def _helper(n):
    return torch.ones(2) @ torch.ones(n)


def pair():
    return torch.arange(3), TinyBlock(4)


def nap(seconds):
    time.sleep(seconds)


def shout(text):
    print(text)
    print("warning: loud", file=sys.stderr)
    return len(text)


LIMIT = 3
print("loaded", 42)
"""


@pytest.fixture(scope="module")
def worker(bwrap_ready: None) -> Iterator[Sandbox]:
    """One worker with SUBMISSION loaded, shared by the tests that do not break it."""
    sandbox = Sandbox(TEST_LIMITS, label="rpc", isolation="bwrap")
    sandbox.start()
    report = sandbox.load(SUBMISSION)
    assert report.ok, report.error
    yield sandbox
    sandbox.close()


def line_of(text: str) -> int:
    """1-based line of SUBMISSION holding ``text``."""
    return next(i for i, line in enumerate(SUBMISSION.splitlines(), 1) if text in line)


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.softmax(q @ k.transpose(-2, -1) / q.size(-1) ** 0.5, -1) @ v


# --- loading ------------------------------------------------------------------------------


def test_load_reports_symbols_signatures_and_output(open_sandbox: SandboxFactory) -> None:
    sandbox = open_sandbox()
    report = sandbox.load(SUBMISSION)
    assert report.ok and report.error is None
    assert report.stdout == "loaded 42\n" and report.stderr == ""
    symbols = report.symbols
    assert symbols["attention"].kind == "function" and symbols["attention"].defined_here
    assert symbols["attention"].signature == "(query, key, value, mask=None, dropout=None)"
    mask = symbols["attention"].params[3]
    assert (mask.name, mask.kind, mask.has_default, mask.default_repr) == (
        "mask",
        "positional_or_keyword",
        True,
        "None",
    )
    assert symbols["TinyBlock"].kind == "class"
    assert [p.name for p in symbols["TinyBlock"].params] == ["dim", "hidden", "dropout"]
    assert symbols["torch"].kind == "module" and not symbols["torch"].defined_here
    assert symbols["nn"].kind == "module"
    assert symbols["LIMIT"].kind == "value" and symbols["LIMIT"].signature is None
    with pytest.raises(RequestError, match="already holds"):
        sandbox.load("x = 1")


def test_a_package_of_modules_loads_from_strings(open_sandbox: SandboxFactory) -> None:
    sandbox = open_sandbox()
    report = sandbox.load_modules(
        {
            "pkg": "from pkg.front import double_plus_one\n",
            "pkg.front": "from pkg.core import double\n\ndef double_plus_one(x):\n    return double(x) + 1\n",
            "pkg.core": "def double(x):\n    if x < 0:\n        raise ValueError('negative')\n    return 2 * x\n",
        },
        main="pkg",
    )
    assert report.ok, report.error
    assert sandbox.call("double_plus_one", 3) == 7
    assert sandbox.call("pkg.core:double", 5) == 10
    with pytest.raises(RequestError, match="not a module of this submission"):
        sandbox.call("os:system", "true")
    with pytest.raises(CandidateError) as caught:
        sandbox.call("double_plus_one", -1)
    assert 'File "pkg/front.py"' in caught.value.traceback
    assert 'File "pkg/core.py", line 3, in double' in caught.value.traceback


def test_a_top_level_error_keeps_what_was_defined_before_it(open_sandbox: SandboxFactory) -> None:
    sandbox = open_sandbox()
    report = sandbox.load(
        "def early(x):\n    return x + 1\n\nraise KeyError('cell 7')\n\ndef late():\n    pass\n"
    )
    assert not report.ok
    assert isinstance(report.error, CandidateError) and report.error.type == "KeyError"
    assert 'File "submission.py", line 4, in <module>' in report.error.traceback
    assert "early" in report.symbols and "late" not in report.symbols
    assert sandbox.call("early", 1) == 2


def test_syntax_errors_point_at_the_candidates_line(open_sandbox: SandboxFactory) -> None:
    sandbox = open_sandbox()
    report = sandbox.load("x = 1\ndef broken(:\n    pass\n", filename="answer.py")
    assert isinstance(report.error, CandidateError) and report.error.type == "SyntaxError"
    assert 'File "answer.py", line 2' in report.error.traceback
    assert report.error.summary().startswith("error: SyntaxError")


# --- values -------------------------------------------------------------------------------


def test_tensors_of_every_dtype_and_shape_round_trip_through_the_worker(worker: Sandbox) -> None:
    tensors = []
    for dtype in DTYPES.values():
        for shape in [(), (0,), (2, 0, 3), (2, 3)]:
            tensor = (torch.arange(math.prod(shape)).reshape(shape) - 2).to(dtype)
            tensors.append(tensor * 1j if dtype.is_complex else tensor)
    back = worker.run("echo", *tensors)
    assert len(back) == len(tensors)
    for sent, received in zip(tensors, back, strict=True):
        assert received.dtype == sent.dtype and received.shape == sent.shape
        assert torch.equal(received, sent)


def test_nested_values_round_trip_through_the_worker(worker: Sandbox) -> None:
    value = {
        "floats": [math.inf, -math.inf, 0.1, -0.0],
        "tuple": (None, True, 2**40, "text"),
        "nested": {"deeper": [(1, 2), {"k": b"bytes"}]},
        "tensor": torch.ones(2, 3),
        "dtype": torch.float16,
    }
    (back,) = worker.run("echo", value)
    assert back["floats"] == value["floats"] and back["tuple"] == value["tuple"]
    assert back["nested"] == value["nested"] and back["dtype"] is torch.float16
    assert torch.equal(back["tensor"], value["tensor"])
    (nan,) = worker.run("echo", math.nan)
    assert math.isnan(nan)


def test_calling_a_function_returns_its_tensor(worker: Sandbox) -> None:
    generator = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=generator) for _ in range(3))
    out = worker.call("attention", q, k, v)
    assert torch.allclose(out, reference_attention(q, k, v), atol=1e-6)
    mask = torch.tril(torch.ones(5, 5))
    masked = worker.call("attention", q, k, v, mask=mask)
    assert torch.allclose(masked[..., 0, :], v[..., 0, :], atol=1e-6)  # row 0 sees only key 0


# --- handles ------------------------------------------------------------------------------


def test_objects_stay_in_the_worker_behind_handles(worker: Sandbox) -> None:
    block = worker.new("TinyBlock", 4, hidden=6)
    assert isinstance(block, Handle) and block.type_name == "TinyBlock"
    assert "Linear(in_features=4" in block.repr
    x = torch.randn(3, 4)
    assert worker.call(block, x).shape == (3, 4)
    assert worker.call_method(block, "describe", prefix="b") == "b:4"
    assert isinstance(worker.call_method(block, "eval"), Handle)
    assert worker.getattr(block, "proj.weight").shape == (4, 4)
    proj = worker.getattr(block, "proj")
    assert isinstance(proj, Handle) and proj.type_name == "Linear"
    worker.setattr(block, "training", True)
    assert worker.getattr(block, "training") is True
    tensor, inner = worker.call("pair")
    assert torch.equal(tensor, torch.arange(3)) and inner.type_name == "TinyBlock"
    cls = worker.symbol("TinyBlock")
    assert cls.type_name == "type" and worker.new(cls, 2).type_name == "TinyBlock"


def test_state_dict_and_load_state_dict(worker: Sandbox) -> None:
    block = worker.new("TinyBlock", 4)
    state = worker.state_dict(block)
    assert set(state) == {
        "proj.weight",
        "proj.bias",
        "ff.0.weight",
        "ff.0.bias",
        "ff.2.weight",
        "ff.2.bias",
    }
    assert all(type(t) is torch.Tensor for t in state.values())
    zeros = {name: torch.zeros_like(t) for name, t in state.items()}
    assert worker.load_state_dict(block, zeros) == {"missing_keys": [], "unexpected_keys": []}
    assert torch.equal(worker.call(block, torch.randn(2, 4)), torch.zeros(2, 4))
    partial = {"proj.weight": zeros["proj.weight"], "extra": torch.ones(1)}
    keys = worker.load_state_dict(block, partial, strict=False)
    assert "proj.bias" in keys["missing_keys"] and keys["unexpected_keys"] == ["extra"]


def test_modules_lists_submodules_with_their_own_parameters(worker: Sandbox) -> None:
    infos = worker.modules(worker.new("TinyBlock", 4, hidden=6))
    assert [(m.name, m.type_name) for m in infos] == [
        ("", "TinyBlock"),
        ("proj", "Linear"),
        ("ff", "Sequential"),
        ("ff.0", "Linear"),
        ("ff.1", "ReLU"),
        ("ff.2", "Linear"),
    ]
    assert infos[3].params == {"weight": (6, 4), "bias": (6,)}
    assert infos[2].params == {}


def test_torch_constructors_come_from_an_allow_list(worker: Sandbox) -> None:
    dropout = worker.torch_new("nn.Dropout", p=0.5)
    assert dropout.type_name == "Dropout"
    q = torch.ones(1, 1, 4, 8)
    dropped = worker.call("attention", q, q, q, dropout=dropout)
    assert not torch.equal(dropped, worker.call("attention", q, q, q))
    block = worker.new("TinyBlock", 4)
    optimiser = worker.torch_new("optim.SGD", params_of=block, lr=0.1)
    assert optimiser.type_name == "SGD"
    with pytest.raises(RequestError, match="not an allowed torch constructor"):
        worker.torch_new("hub.load", "evil/repo")


def test_released_handles_are_forgotten(worker: Sandbox) -> None:
    block = worker.new("TinyBlock", 4)
    worker.release(block)
    with pytest.raises(RequestError, match="unknown"):
        worker.call(block, torch.ones(1, 4))


# --- errors -------------------------------------------------------------------------------


def test_candidate_errors_carry_only_the_candidates_frames(worker: Sandbox) -> None:
    with pytest.raises(CandidateError) as caught:
        worker.call("fails_deep", 3)
    error = caught.value
    assert error.type == "RuntimeError" and "inconsistent tensor size" in error.message
    lines = error.traceback.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    frames = [line.strip() for line in lines if line.strip().startswith("File ")]
    assert frames == [
        f'File "submission.py", line {line_of("return _helper(n)")}, in fails_deep',
        f'File "submission.py", line {line_of("return torch.ones(2) @")}, in _helper',
    ]
    assert "/worker/" not in error.traceback and "site-packages" not in error.traceback
    assert error.summary().startswith("error: RuntimeError: ") and "\n" not in error.summary()
    assert worker.call(
        "attention", torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    ).shape == (1, 1, 2, 2)


def test_grader_mistakes_are_request_errors_not_candidate_errors(worker: Sandbox) -> None:
    with pytest.raises(RequestError, match="defines no 'MultiHeadAttention'"):
        worker.call("MultiHeadAttention", 1)
    with pytest.raises(RequestError, match="no recipe"):
        worker.run("train_forever")
    with pytest.raises(RequestError, match="not being recorded"):
        worker.recorded("attention_never_recorded")


def test_a_call_past_its_timeout_kills_the_worker(open_sandbox: SandboxFactory) -> None:
    sandbox = open_sandbox()
    sandbox.load(SUBMISSION)
    started = time.monotonic()
    with pytest.raises(WorkerTimeout, match="killed after 1 s during a call") as caught:
        sandbox.call("nap", 60, _timeout=1.0)
    assert time.monotonic() - started < 5
    assert caught.value.summary() == "error: killed after 1 s during a call (wall-clock limit)"
    with pytest.raises(WorkerDead, match="restart"):
        sandbox.call(
            "attention", torch.ones(1, 1, 1, 1), torch.ones(1, 1, 1, 1), torch.ones(1, 1, 1, 1)
        )


def test_a_worker_that_cannot_start_in_time_is_an_error(bwrap_ready: None) -> None:
    limits = SandboxLimits(startup_timeout_s=0.05)
    sandbox = Sandbox(limits, isolation="bwrap")
    with pytest.raises(WorkerTimeout, match="during start-up"):
        sandbox.start()
    assert not sandbox.alive
    with pytest.raises(WorkerDead):
        sandbox.ping()
    sandbox.close()


# --- recording and recipes ----------------------------------------------------------------


def test_recording_sees_calls_made_inside_other_calls(worker: Sandbox) -> None:
    block = worker.new("TinyBlock", 4)
    mask = torch.tril(torch.ones(1, 1))
    worker.record("attention", limit=2)
    for _ in range(3):
        worker.call(block, torch.randn(2, 4), mask=mask)
    calls = worker.recorded("attention")
    assert len(calls) == 2
    assert set(calls[0]) == {"query", "key", "value", "mask", "dropout", "return"}
    assert torch.equal(calls[0]["mask"], mask) and calls[0]["dropout"] is None
    assert calls[0]["return"].shape == (2, 1, 4)
    worker.stop_recording("attention")
    with pytest.raises(RequestError):
        worker.recorded("attention")
    worker.call(block, torch.randn(2, 4))  # the original is back and still works


def test_recording_a_method_binds_self_and_defaults(worker: Sandbox) -> None:
    block = worker.new("TinyBlock", 4)
    worker.record("TinyBlock.forward")
    worker.call(block, torch.ones(1, 4))
    (call,) = worker.recorded("TinyBlock.forward")
    assert isinstance(call["self"], Handle) and call["mask"] is None
    assert torch.equal(call["x"], torch.ones(1, 4))
    worker.stop_recording("TinyBlock.forward")
    assert worker.call_method(block, "describe") == "block:4"


def test_recipes_run_trusted_code_on_handles(worker: Sandbox) -> None:
    block = worker.new("TinyBlock", 4)
    grads = worker.run("parameter_grads", block, torch.randn(3, 4))
    assert set(grads) == set(worker.state_dict(block))
    assert all(
        g is not None and g.shape == worker.getattr(block, name).shape for name, g in grads.items()
    )
    worker.run("reseed", 5)
    first = worker.call_method(worker.torch_new("nn.Linear", 2, 2), "state_dict")
    worker.run("reseed", 5)
    second = worker.call_method(worker.torch_new("nn.Linear", 2, 2), "state_dict")
    assert torch.equal(first["weight"], second["weight"])


def test_candidate_output_is_kept_apart_from_the_protocol(worker: Sandbox) -> None:
    assert worker.call("shout", "hello from a call") == len("hello from a call")
    tail = worker.output_tail()
    assert tail.stdout.startswith("loaded 42\n") and "hello from a call\n" in tail.stdout
    assert "warning: loud\n" in tail.stderr and tail.dropped_bytes == 0


# --- restarts -----------------------------------------------------------------------------


@pytest.mark.slow  # two worker starts
def test_restart_reloads_the_source_and_makes_old_handles_stale(
    open_sandbox: SandboxFactory,
) -> None:
    sandbox = open_sandbox()
    sandbox.load(SUBMISSION)
    old = sandbox.new("TinyBlock", 4)
    report = sandbox.restart()
    assert report is not None and report.ok and "TinyBlock" in report.symbols
    with pytest.raises(StaleHandle, match="restart"):
        sandbox.call(old, torch.ones(1, 4))
    fresh = sandbox.new("TinyBlock", 4)
    assert sandbox.call(fresh, torch.ones(1, 4)).shape == (1, 4)


@pytest.mark.slow
def test_the_submission_budget_spans_restarts(open_sandbox: SandboxFactory) -> None:
    limits = SandboxLimits(call_timeout_s=60, startup_timeout_s=60, submission_timeout_s=12)
    sandbox = open_sandbox(limits)
    sandbox.load(SUBMISSION)
    with pytest.raises(WorkerTimeout):
        sandbox.call("nap", 120)  # stopped by what is left of the 12 s, not by the 60 s
    with pytest.raises(WorkerTimeout, match="budget of 12 s is spent"):
        sandbox.restart()


EINOPS_SUBMISSION = """
from einops import rearrange
def swap(x):
    return rearrange(x, 'a b -> b a')
"""


@pytest.mark.slow
def test_a_package_with_a_slow_first_call_is_warmed_up_at_load(
    open_sandbox: SandboxFactory,
) -> None:
    """einops imports torch._dynamo on its first torch call (seconds): the worker runs that
    call after loading, so the candidate's first call fits a short per-check limit."""
    sandbox = open_sandbox()
    sandbox.load(EINOPS_SUBMISSION)
    with sandbox.calls_limited(1.0):
        out = sandbox.call("swap", torch.arange(6).view(2, 3))
    assert torch.equal(out, torch.arange(6).view(2, 3).t())
