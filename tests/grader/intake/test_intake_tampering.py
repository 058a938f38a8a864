"""Code that reaches into the grader's worker is reported; honest answers never are."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.intake import load_submission
from grader.intake.tampering import suspected_tampering

ROOT = Path(__file__).resolve().parents[3]
SEEDS = ROOT / ".." / "shared" / "seeds"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("import recorder\n", "imports the worker's module 'recorder'"),
        ("from training_recipes import Trainer\n", "imports from the worker's module"),
        ("import sys\nr = sys.modules['recipes']\n", "looks up the worker's module 'recipes'"),
        ("import importlib\np = importlib.import_module('protocol')\n", "'protocol'"),
        ("import sys\nf = sys._getframe(1)\n", "sys._getframe"),
        ("def f(frame):\n    return frame.f_back.f_locals\n", "f_locals"),
        ("fd = open('/proc/self/fd/3', 'wb')\n", "/proc/self/fd"),
    ],
)
def test_reaching_into_the_worker_is_reported_with_its_line(source: str, words: str) -> None:
    found = suspected_tampering(source)
    assert found and any(words in line for line in found), found
    assert found[0].startswith("line ")


def test_ordinary_words_and_modules_are_not_tampering() -> None:
    source = (
        "import torch\nfrom torch.utils.data import DataLoader\n"
        "protocol = 'recipes'\nprint('recorder', 'loader')\n"
        "def loader(worker):\n    return worker.roles\n"
    )
    assert suspected_tampering(source) == []


def test_the_example_submissions_and_the_seeds_are_clean() -> None:
    paths = sorted((ROOT / "submissions").glob("*.*")) + sorted(SEEDS.glob("*.*"))
    checked = 0
    for path in paths:
        if path.suffix in (".md", ".txt", ".py", ".ipynb") and path.name != "README.md":
            sub = load_submission(path)
            code = "\n".join(cell.source for cell in sub.code_cells)
            assert suspected_tampering(code) == [], path.name
            checked += 1
    assert checked >= 5


def test_helper_modules_are_read_too_and_own_names_are_theirs() -> None:
    helpers = [
        SimpleNamespace(name="loader", file="loader.py", source="def batches():\n    return []\n"),
        SimpleNamespace(name="utils", file="utils.py", source="import recorder\n"),
    ]
    found = suspected_tampering("import loader\nfrom utils import *\n", helpers)
    assert found == ["utils.py, line 1: imports the worker's module 'recorder'"]
    assert suspected_tampering("import loader\n") == [
        "line 1: imports the worker's module 'loader'"
    ]
