"""Finding a multi-head attention's projections by behaviour, in every layout candidates use.

Each layout is a small honest module written here in that style (fused rows laid out
projection by projection or head by head, one module per head, a fused key/value layer); the
grader's `identify` must rebuild the module's exact output from its state dict alone, for
every head count, and name the wrong scaling of a module that divides by head_dim.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from grader.checks.projections import candidates, identify, wrong_scaling

DIM = 12
HEAD_COUNTS = (1, 2, 3, 4, 6, 12)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    return ((q @ k.transpose(-2, -1)) * scale).softmax(dim=-1) @ v


class Interleaved(nn.Module):
    """Bloom's fused projection: rows laid out (heads, 3, head_dim)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.query_key_value, self.dense = (
            heads,
            nn.Linear(dim, 3 * dim),
            nn.Linear(dim, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        fused = self.query_key_value(x).view(b, n, self.heads, 3, d // self.heads)
        q, k, v = (fused[..., i, :].transpose(1, 2) for i in range(3))  # (b, h, n, hd)
        out = attend(q, k, v, (d // self.heads) ** -0.5)
        return self.dense(out.transpose(1, 2).reshape(b, n, d))


class Blocked(Interleaved):
    """The usual fused projection: rows laid out (3, heads, head_dim)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        fused = self.query_key_value(x).view(b, n, 3, self.heads, d // self.heads)
        q, k, v = fused.permute(2, 0, 3, 1, 4)
        out = attend(q, k, v, (d // self.heads) ** -0.5)
        return self.dense(out.transpose(1, 2).reshape(b, n, d))


class Head(nn.Module):
    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        self.key = nn.Linear(dim, size, bias=False)
        self.query = nn.Linear(dim, size, bias=False)
        self.value = nn.Linear(dim, size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.query(x), self.key(x), self.value(x)
        return attend(q, k, v, q.size(-1) ** -0.5)


class PerHead(nn.Module):
    """Karpathy's lecture: one module per head, outputs concatenated, then a projection."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList([Head(dim, dim // heads) for _ in range(heads)])
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([h(x) for h in self.heads], dim=-1))


class FusedKeyValue(nn.Module):
    """x-transformers: a query layer and one fused key/value layer."""

    def __init__(self, dim: int, heads: int, scale_by_head_dim: bool = False) -> None:
        super().__init__()
        self.heads, self.wrong = heads, scale_by_head_dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        k, v = self.to_kv(x).chunk(2, dim=-1)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, -1).transpose(1, 2)

        head_dim = d // self.heads
        scale = 1 / head_dim if self.wrong else head_dim**-0.5
        out = attend(split(self.to_q(x)), split(k), split(v), scale)
        return self.to_out(out.transpose(1, 2).reshape(b, n, d))


def state_of(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.double() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("layout", [Interleaved, Blocked, PerHead, FusedKeyValue])
@pytest.mark.parametrize("heads", HEAD_COUNTS)
def test_every_layout_is_rebuilt_from_its_weights(layout: type[nn.Module], heads: int) -> None:
    torch.manual_seed(heads)
    module = layout(DIM, heads).double()
    x = torch.randn(2, 5, DIM, dtype=torch.float64)
    found = identify(state_of(module), DIM, heads, x, module(x).detach(), atol=1e-9)
    assert found is not None
    assert {found.query.weight.shape, found.key.weight.shape, found.value.weight.shape} == {
        (DIM, DIM)
    }


def test_interleaved_rows_are_not_read_as_blocks() -> None:
    """The two fused layouts are different modules: each is matched by its own reading."""
    torch.manual_seed(0)
    module = Interleaved(DIM, 3).double()
    x = torch.randn(2, 5, DIM, dtype=torch.float64)
    found = identify(state_of(module), DIM, 3, x, module(x).detach(), atol=1e-9)
    assert found is not None and "per head" in found.query.name


def test_layers_that_are_no_layout_give_no_candidate() -> None:
    odd = {"a.weight": torch.randn(5, DIM), "b.weight": torch.randn(DIM, DIM)}
    assert candidates(odd, DIM, 2) == []


def test_scores_divided_by_head_dim_are_named() -> None:
    torch.manual_seed(1)
    module = FusedKeyValue(DIM, 3, scale_by_head_dim=True).double()
    x = torch.randn(2, 5, DIM, dtype=torch.float64)
    out = module(x).detach()
    state = state_of(module)
    assert identify(state, DIM, 3, x, out, atol=1e-9) is None
    assert wrong_scaling(state, DIM, 3, x, out, atol=1e-9) == (
        "1/head_dim instead of 1/sqrt(head_dim)"
    )
    right = FusedKeyValue(DIM, 3).double()
    right.load_state_dict(module.state_dict())
    assert wrong_scaling(state, DIM, 3, x, right(x).detach(), atol=1e-9) is None
