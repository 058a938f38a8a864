"""The candidate's environment inside a real worker: the common libraries are there but not
imported at start-up, plots go nowhere, a package that is missing fails only what uses it,
and the candidate's helper modules load under their own names (even one called ``loader``,
like a module of the worker's own)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grader.sandbox import CandidateError, Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

LIBRARIES = ("matplotlib", "pandas", "scipy", "einops")
"""Imported only when a submission does (numpy comes with torch, which the worker imports)."""

SOURCE = f"""
import sys

import torch
import not_installed_anywhere as nia
from also_missing.deep import decorate
from helpers import double
import loader


def imported_now():
    return sorted(m for m in {LIBRARIES!r} if m in sys.modules)


def plot():
    import einops
    import matplotlib
    import matplotlib.pyplot as plt
    import pandas
    import scipy.special
    from tqdm import tqdm

    x = einops.rearrange(torch.arange(6.0), "(a b) -> a b", a=2)
    frame = pandas.DataFrame(x.numpy())
    plt.plot(frame[0])
    plt.savefig("curve.png")
    plt.show()
    total = sum(tqdm(range(3), leave=False))
    return [matplotlib.get_backend().lower(), float(scipy.special.expit(0.0)), total]


def twice_plus_one(x):
    return double(x) + loader.one()


def uses_missing(x):
    return nia.table(x)


@decorate
def needs_missing_when_defined():
    return 1


def imports_missing_when_called():
    import another_absent_package

    return another_absent_package
"""

HELPERS = [
    SimpleNamespace(name="helpers", source="def double(x):\n    return 2 * x\n"),
    SimpleNamespace(name="loader", source="def one():\n    return 1\n"),
]


@pytest.fixture(scope="module")
def worker():
    with Sandbox(label="environment") as sandbox:
        before = sandbox.load(SOURCE, modules=HELPERS)
        yield sandbox, before


def test_the_libraries_are_not_imported_at_start_up(worker) -> None:
    sandbox, _ = worker
    assert sandbox.call("imported_now") == []


def test_the_libraries_work_and_plots_go_nowhere(worker) -> None:
    sandbox, _ = worker
    assert sandbox.call("plot") == ["agg", 0.5, 3]
    assert set(sandbox.call("imported_now")) == set(LIBRARIES)
    assert not [e for e in sandbox.audit_events if "__pycache__" not in e]  # no fc-list noise


def test_a_missing_package_fails_only_what_uses_it(worker) -> None:
    sandbox, report = worker
    assert report.ok, report.error
    assert report.missing == ("also_missing", "not_installed_anywhere")
    (left_out,) = report.left_out
    assert "also_missing" in left_out[1]
    assert "needs_missing_when_defined" not in report.symbols
    assert sandbox.call("twice_plus_one", 4) == 9  # helper modules, `loader` included
    with pytest.raises(CandidateError) as raised:
        sandbox.call("uses_missing", 1)
    assert "No module named 'not_installed_anywhere'" in raised.value.message
    with pytest.raises(CandidateError) as raised:  # after the load: the usual error
        sandbox.call("imports_missing_when_called")
    assert raised.value.type == "ModuleNotFoundError"
