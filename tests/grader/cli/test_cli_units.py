"""Work handed in the way candidates hand it in, graded in ONE `grader grade` run (--jobs 2):

- ``plots.ipynb``: the correct base as a notebook that imports matplotlib, tqdm and einops
  (and uses them: einops splits the heads, tqdm wraps the training loop, evaluate() plots),
  with the magics candidates leave in (``!pip install``, ``%matplotlib inline``, ``%%time``)
  and one package the environment lacks (``wandb``, used by one function only);
- ``alice/``: a folder, a notebook that imports ``attention`` and the causal mask from the
  ``helpers.py`` beside it;
- ``bob.zip``: the same folder, zipped;
- ``slip.zip`` (a ``../`` path), ``bomb.zip`` (64 MB of zeros), ``link.ipynb`` (a symbolic
  link to a notebook outside the folder), ``empty.py``: refused, with reasons;
- a ``README.md``: not a candidate, skipped with a word.

The correct ones must pass every task; the hostile ones must be refused with clear reasons,
listed apart and never ranked. Every file is built here from tests/catalogue/base.py (a
correct, complete submission)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
from cli_support import ROOT, Runner

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

BASE = ROOT / "tests" / "catalogue" / "base.py"
HELPERS = ("attention", "generate_square_subsequent_mask")
GRADED = {"plots", "alice", "bob"}
REFUSED = {
    "slip": "leaves its folder",
    "bomb": "zip bomb",
    "link": "symbolic link",
    "empty": "the file is empty",
}
EDITS = {  # the base's code, rewritten the way a candidate using these libraries writes it
    "return x.view(batch, seq, self.n_heads, self.head_dim).transpose(1, 2)": (
        'return einops.rearrange(x, "b s (h d) -> b h s d", h=self.n_heads)'
    ),
    "for batch, i in enumerate(range(0, train_data.size(0) - 1, window_size)):": (
        "steps = range(0, train_data.size(0) - 1, window_size)\n"
        "    for batch, i in enumerate(tqdm(steps, leave=False)):"
    ),
    "    return total_loss.item() / total_tokens": (
        "    plot_losses([total_loss.item() / total_tokens])\n"
        "    return total_loss.item() / total_tokens"
    ),
}
PLOTTING = '''def plot_losses(losses):
    """The validation curve, as candidates plot it."""
    plt.figure()
    plt.plot(losses)
    plt.savefig("loss.png")
    plt.show()
    plt.close()
'''
LOGGING = '''def log_run(loss):
    """Send the loss to the candidate's experiment tracker."""
    wandb.log({"loss": loss})
'''


def base_parts() -> tuple[str, dict[str, str]]:
    """(the base's imports, each top-level definition's source by name), edited by EDITS."""
    text = BASE.read_text(encoding="utf-8")
    for old, new in EDITS.items():
        assert text.count(old) == 1, f"tests/catalogue/base.py no longer has: {old}"
        text = text.replace(old, new)
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    imports = "".join(
        "".join(lines[n.lineno - 1 : n.end_lineno])
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
    )
    definitions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            definitions[node.name] = "".join(lines[start - 1 : node.end_lineno])
    return imports, definitions


def notebook(cells: list[str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# My answer to the transformer test")]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


LIBRARIES = "import einops\nimport matplotlib.pyplot as plt\nfrom tqdm import tqdm\n"


def plots_notebook() -> str:
    imports, definitions = base_parts()
    cells = [
        "!pip install einops tqdm\n%matplotlib inline\n" + imports + LIBRARIES + "import wandb",
        PLOTTING,
        LOGGING,
        *(f"%%time\n{code}" if name == "train" else code for name, code in definitions.items()),
        "losses = []\nfor epoch in range(3):\n    losses.append(epoch)\nplot_losses(losses)",
    ]
    return notebook(cells)


def folder_candidate(folder: Path) -> None:
    imports, definitions = base_parts()
    folder.mkdir()
    helpers = imports + "\n\n" + "\n\n".join(definitions[name] for name in HELPERS)
    (folder / "helpers.py").write_text(helpers, encoding="utf-8")
    cells = [
        imports + LIBRARIES + f"from helpers import {', '.join(HELPERS)}",
        PLOTTING,
        *(code for name, code in definitions.items() if name not in HELPERS),
    ]
    (folder / "solution.ipynb").write_text(notebook(cells), encoding="utf-8")


@pytest.fixture(scope="module")
def handed_in(grader: Runner, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("units")
    batch = root / "batch"
    batch.mkdir()
    (batch / "plots.ipynb").write_text(plots_notebook(), encoding="utf-8")
    folder_candidate(batch / "alice")
    with zipfile.ZipFile(batch / "bob.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted((batch / "alice").iterdir()):
            zf.write(file, f"bob/{file.name}")
    with zipfile.ZipFile(batch / "slip.zip", "w") as zf:
        zf.writestr("slip/solution.py", BASE.read_text(encoding="utf-8"))
        zf.writestr("../../evil.py", "import os\n")
    with (
        zipfile.ZipFile(batch / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("solution.py", "w") as member,
    ):
        for _ in range(64):
            member.write(b" " * 1024**2)
    outside = root / "elsewhere"
    outside.mkdir()
    (outside / "secret.ipynb").write_text(plots_notebook(), encoding="utf-8")
    (batch / "link.ipynb").symlink_to(outside / "secret.ipynb")
    (batch / "empty.py").write_bytes(b"")
    (batch / "README.md").write_text("# The candidates of this round\n", encoding="utf-8")

    out = root / "out"
    args = ["grade", str(batch), "-a", "transformer_lm", "--out", str(out), "--jobs", "2"]
    run = grader(*args, "--budget", "quick")
    results = {
        path.parent.name: json.loads(path.read_text(encoding="utf-8"))
        for path in out.glob("*/result.json")
    }
    summary = json.loads((out / "summary.json").read_text()) if run.returncode == 0 else {}
    return {"run": run, "root": root, "out": out, "results": results, "summary": summary}


def test_one_run_grades_every_candidate_of_the_folder(handed_in: dict) -> None:
    run: subprocess.CompletedProcess = handed_in["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(handed_in["results"]) == GRADED | set(REFUSED)
    assert re.search(r"skipped \S*README\.md: a README", run.stderr)
    assert "graded 3 submission(s), 4 not gradable" in run.stdout


@pytest.mark.parametrize("name", sorted(GRADED))
def test_the_correct_candidates_pass_every_task(handed_in: dict, name: str) -> None:
    result = handed_in["results"][name]
    assert result["status"] == "graded" and result["overall"] is not None
    failing = {
        task: [c["name"] for c in value["checks"] if c["status"] != "pass"]
        for task, value in result["tasks"].items()
        if value["status"] != "pass" and not task.startswith("question:")
    }
    assert not failing, (failing, result["errors"])
    assert not any("failed to load" in e for e in result["errors"])
    assert not result["environment"]["sandbox"].get("audit_events"), "nothing refused"


@pytest.mark.parametrize("name", ["alice", "bob"])
def test_the_helper_module_is_loaded_and_listed(handed_in: dict, name: str) -> None:
    result = handed_in["results"][name]
    notes = " ".join(result["intake"]["format_notes"])
    assert "main file: solution.ipynb" in notes
    assert "helper module `helpers` (helpers.py)" in notes
    for task in ("attention", "causal_mask"):  # defined in helpers.py only
        assert result["tasks"][task]["status"] == "pass", task
    assert result["submission"]["name"] == name


def test_a_missing_package_costs_only_what_uses_it(handed_in: dict) -> None:
    result = handed_in["results"]["plots"]
    (said,) = [e for e in result["errors"] if "wandb" in e]
    assert "`log_run` use it and fail when called" in said and "extra_packages" in said


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hostile_and_empty_hand_ins_are_refused_with_reasons(handed_in: dict, name: str) -> None:
    result = handed_in["results"][name]
    assert result["status"] == "not_gradable" and result["overall"] is None
    assert REFUSED[name] in result["reason"], result["reason"]
    if name == "link":
        assert "outside" in result["reason"]


def test_only_gradable_candidates_are_ranked(handed_in: dict) -> None:
    summary = handed_in["summary"]
    assert {row["name"] for row in summary["submissions"]} == GRADED
    assert [row["rank"] for row in summary["submissions"]] == [1, 2, 3]
    assert {row["name"] for row in summary["not_gradable"]} == set(REFUSED)
    index = (handed_in["out"] / "index.html").read_text(encoding="utf-8")
    assert 'id="not-gradable"' in index and index.count("not gradable") >= 1
    stdout = handed_in["run"].stdout
    assert "not gradable (4), not ranked:" in stdout
    ranked = stdout.split("not gradable (4)")[0]
    assert not any(re.search(rf"^{name}\s", ranked, re.MULTILINE) for name in REFUSED)


def test_nothing_was_written_outside_the_archive_folder(handed_in: dict) -> None:
    root: Path = handed_in["root"]
    assert not list(root.parent.glob("evil.py")) and not list(root.rglob("evil.py"))
