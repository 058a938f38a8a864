"""Candidate units (`grader.intake.units`): a file, a folder or an archive read as one
submission; the main file chosen, the helper modules found, a batch folder's children
sorted into candidates and skips. Nothing here runs candidate code (no worker)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from grader.assignment import get
from grader.config import IntakeLimits
from grader.intake import extract, resolve
from grader.intake.units import discover, is_candidate_folder, load_unit, unit_digest, unit_name

ATTENTION = "def attention(query, key, value, mask=None, dropout=None):\n    return value\n"
MASK = "def generate_square_subsequent_mask(size):\n    return size\n"
BLOCK = "class EncoderBlock:\n    def forward(self, x):\n        return x\n"


def notebook(*cells: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def assignment():
    return get("transformer_lm")


@pytest.fixture
def alice(tmp_path: Path) -> Path:
    """A candidate's folder: a notebook importing a helper module, and a stray script."""
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "solution.ipynb").write_text(
        notebook("%matplotlib inline\nimport torch\nfrom helpers import attention", MASK, BLOCK)
    )
    (folder / "helpers.py").write_text(
        "import torch\n\n\n" + ATTENTION + "\nprint('side effect')\n"
    )
    (folder / "scratch.py").write_text("print('hello')\n")
    return folder


def test_a_folder_is_one_submission_with_its_helper_module(alice: Path, assignment) -> None:
    sub = load_unit(alice, assignment)
    assert (sub.name, sub.format, sub.path) == ("alice", "ipynb", str(alice.absolute()))
    (helper,) = sub.modules
    assert (helper.name, helper.file) == ("helpers", "helpers.py")
    assert "def attention" in helper.source
    assert "print('side effect')" not in helper.source  # extracted: top-level work left out
    assert helper.definitions == {"attention": ("function", False)}
    notes = " ".join(sub.notes)
    assert "main file: solution.ipynb" in notes and "helper module `helpers`" in notes
    assert "scratch.py" in notes  # listed as not graded


def test_a_task_defined_in_a_helper_resolves_through_from_import(alice: Path, assignment) -> None:
    sub = load_unit(alice, assignment)
    resolutions = resolve(extract(sub, assignment.handout_source()), assignment)
    assert resolutions["attention"].symbol == "attention"
    assert resolutions["attention"].resolved_by == "name"
    assert resolutions["causal_mask"].symbol == "generate_square_subsequent_mask"


def test_the_main_file_defines_the_most_tasks_then_notebooks_first(
    tmp_path: Path,
    assignment,
) -> None:
    folder = tmp_path / "bob"
    folder.mkdir()
    (folder / "a_notes.ipynb").write_text(notebook("import torch"))
    (folder / "model.py").write_text(ATTENTION + MASK)
    (folder / "z_draft.ipynb").write_text(notebook(ATTENTION))
    sub = load_unit(folder, assignment)
    assert "main file: model.py" in " ".join(sub.notes)  # two tasks beat one
    (folder / "z_draft.ipynb").write_text(notebook(ATTENTION, MASK))
    sub = load_unit(folder, assignment)
    assert "main file: z_draft.ipynb" in " ".join(sub.notes)  # a tie: the notebook
    assert "model.py" in " ".join(sub.notes)


def test_main_and_the_assignment_rule_choose(tmp_path: Path, assignment) -> None:
    folder = tmp_path / "carol"
    folder.mkdir()
    (folder / "one.ipynb").write_text(notebook(ATTENTION))
    (folder / "two.ipynb").write_text(notebook(ATTENTION))
    tie = " ".join(load_unit(folder, assignment).notes)
    assert "main file: one.ipynb" in tie and "two.ipynb could be it too" in tie
    chosen = load_unit(folder, assignment, IntakeLimits(main="two.ipynb"))
    assert "main file: two.ipynb (chosen by --main `two.ipynb`)" in " ".join(chosen.notes)
    ruled = SimpleNamespace(tasks=assignment.tasks, main_file="t*")
    assert "main file: two.ipynb" in " ".join(load_unit(folder, ruled).notes)
    unmatched = load_unit(folder, assignment, IntakeLimits(main="nothing.py"))
    assert "--main `nothing.py` matched no file" in " ".join(unmatched.notes)


def test_a_readme_or_prose_is_never_the_main_file(tmp_path: Path, assignment) -> None:
    folder = tmp_path / "dave"
    folder.mkdir()
    (folder / "README.md").write_text("# My answer\n\n```python\n" + ATTENTION + "```\n")
    (folder / "requirements.txt").write_text("torch\n")
    (folder / "notes.md").write_text("Some thoughts, no code.\n")
    (folder / "answer.py").write_text("import torch\n")
    assert "main file: answer.py" in " ".join(load_unit(folder, assignment).notes)


def test_a_folder_without_code_is_refused_with_what_it_holds(
    tmp_path: Path,
    assignment,
) -> None:
    folder = tmp_path / "erin"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b\n")
    sub = load_unit(folder, assignment)
    assert sub.format == "unreadable"
    assert "no notebook or Python file" in sub.errors[0] and "data.csv" in sub.errors[0]


def test_packages_relative_imports_and_the_root_are_followed(
    tmp_path: Path,
    assignment,
) -> None:
    folder = tmp_path / "frank"
    (folder / "notebooks").mkdir(parents=True)
    (folder / "src" / "layers").mkdir(parents=True)
    (folder / "notebooks" / "main.ipynb").write_text(
        notebook("import sys\nsys.path.append('..')\nfrom src.model import attention", MASK)
    )
    (folder / "src" / "__init__.py").write_text("")
    (folder / "src" / "model.py").write_text("from .layers.core import scale\n\n\n" + ATTENTION)
    (folder / "src" / "layers" / "core.py").write_text("def scale(x):\n    return x\n")
    sub = load_unit(folder, assignment)
    assert {m.name for m in sub.modules} == {"src", "src.model", "src.layers.core"}
    assert is_candidate_folder(folder)  # its notebook imports its src/ package


def test_modules_named_like_installed_ones_are_not_loaded(tmp_path: Path, assignment) -> None:
    folder = tmp_path / "gina"
    folder.mkdir()
    (folder / "main.py").write_text("import json\nimport numpy\nimport submission\n" + ATTENTION)
    for name in ("json", "numpy", "submission"):
        (folder / f"{name}.py").write_text("X = 1\n")
    sub = load_unit(folder, assignment)
    assert sub.modules == ()
    notes = " ".join(sub.notes)
    assert "standard library" in notes and "installed package" in notes
    assert "the grader gives the main file" in notes


def test_a_notebook_named_alone_brings_the_modules_it_imports(tmp_path: Path) -> None:
    (tmp_path / "cand.ipynb").write_text(notebook("from helpers import attention"))
    (tmp_path / "helpers.py").write_text(ATTENTION)
    (tmp_path / "other.py").write_text("X = 1\n")
    sub = load_unit(tmp_path / "cand.ipynb")
    assert [m.name for m in sub.modules] == ["helpers"]
    assert sub.path.endswith("cand.ipynb") and sub.name == "cand"


def test_the_digest_follows_the_helpers_and_the_folder(alice: Path) -> None:
    main = alice / "solution.ipynb"
    before_file, before_folder = unit_digest(main), unit_digest(alice)
    (alice / "helpers.py").write_text(ATTENTION + "\n# changed\n")
    assert unit_digest(main) != before_file  # the notebook imports it
    assert unit_digest(alice) != before_folder
    (alice / "scratch.py").write_text("print('changed')\n")
    assert load_unit(alice).sha256 == unit_digest(alice)  # what resume compares


def test_a_zip_of_the_folder_reads_as_the_folder(alice: Path, tmp_path: Path, assignment) -> None:
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in alice.iterdir():
            zf.write(file, f"alice/{file.name}")
    sub = load_unit(archive, assignment)
    assert (sub.name, sub.format) == ("alice", "ipynb")
    assert [m.name for m in sub.modules] == ["helpers"]
    assert sub.sha256 == unit_digest(archive)
    assert "an archive: alice.zip" in " ".join(sub.notes)


def test_a_hostile_zip_is_an_unreadable_submission_that_says_why(
    tmp_path: Path,
    assignment,
) -> None:
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.py", ATTENTION)
    sub = load_unit(archive, assignment)
    assert sub.format == "unreadable" and sub.name == "slip"
    assert sub.errors[0].startswith("refused: ") and "leaves its folder" in sub.errors[0]
    assert not (tmp_path.parent / "escape.py").exists()


def test_discover_sorts_a_batch_folder(tmp_path: Path, alice: Path) -> None:
    batch = alice.parent
    (batch / "bob.ipynb").write_text(notebook("from bob_utils import attention"))
    (batch / "bob_utils.py").write_text(ATTENTION)
    (batch / "carol.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (batch / "README.md").write_text("# batch\n")
    (batch / "slides.pdf").write_bytes(b"%PDF-1.4")
    (batch / ".DS_Store").write_bytes(b"\x00")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.ipynb"
    outside.write_text(notebook(ATTENTION))
    (batch / "link_out.ipynb").symlink_to(outside)
    (batch / "link_in.ipynb").symlink_to(batch / "bob.ipynb")
    entries, skipped = discover(batch)
    names = {e.path.name: e.refused for e in entries}
    assert set(names) == {"alice", "bob.ipynb", "carol.zip", "link_out.ipynb", "link_in.ipynb"}
    assert "symbolic link to" in names["link_out.ipynb"] and "outside" in names["link_out.ipynb"]
    assert names["link_in.ipynb"] == ""
    why = {s.path.name: s.reason for s in skipped}
    assert "helper module imported by bob.ipynb" in why["bob_utils.py"]
    assert "README" in why["README.md"] and "not a submission (.pdf)" in why["slides.pdf"]
    assert ".DS_Store" in why
    assert not is_candidate_folder(batch)


def test_links_inside_a_folder_are_not_followed(tmp_path: Path, assignment) -> None:
    folder = tmp_path / "hugo"
    folder.mkdir()
    secret = tmp_path / "secret.py"
    secret.write_text(ATTENTION)
    (folder / "main.py").write_text("from helpers import attention\n")
    os.symlink(secret, folder / "helpers.py")
    sub = load_unit(folder, assignment)
    assert sub.modules == ()
    assert "symbolic links not followed: helpers.py" in " ".join(sub.notes)


def test_unit_names() -> None:
    assert unit_name(Path("alice.tar.gz")) == "alice"
    assert unit_name(Path("cand one.ipynb")) == "cand-one"
