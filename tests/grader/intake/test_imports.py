"""What intake makes of imports: packages the environment lacks (named, with what needs them
and how to add them), and IPython magics and shell lines that never stop a load."""

from __future__ import annotations

import nbformat

from grader.intake import extract, parse_text
from grader.intake.imports import advice, installed, missing_packages

SOURCE = """import torch
import numpy as np
import not_a_real_package as nrp
from another_missing.sub import decorate


@decorate
def fast(x):
    return x


def table(x):
    return nrp.frame(x)


def fine(x):
    return np.asarray(x)


def annotated(x: nrp.Frame) -> int:
    return 1
"""


def test_the_candidate_environment_is_installed() -> None:
    for name in ("numpy", "matplotlib", "tqdm", "einops", "pandas", "scipy", "torch"):
        assert installed(name), name
    assert not installed("not_a_real_package")


def test_a_missing_package_is_named_with_what_needs_it_and_how_to_add_it() -> None:
    first, second = missing_packages(SOURCE)
    assert "`not_a_real_package`" in first and "`table`, `annotated` use it" in first
    assert "extra_packages" in first and "uv pip install" in first
    assert "`another_missing`" in second and "`fast` need it while being defined" in second
    assert not any("numpy" in text or "torch" in text for text in (first, second))


def test_distribution_names_differ_from_import_names() -> None:
    assert '"scikit-learn"' in advice("sklearn", [], ([], []))


def test_the_advice_reaches_the_result_errors_through_load_risks() -> None:
    extracted = extract(parse_text(SOURCE, suffix=".py"))
    assert sum("does not provide" in risk for risk in extracted.load_risks) == 2


def test_magics_and_shell_lines_never_break_a_cell() -> None:
    nb = nbformat.v4.new_notebook()
    cells = [
        "!pip install einops\n%matplotlib inline\nimport torch",
        "%%time\ndef one(x):\n    return x + 1\none(2)",
        "%timeit one(3)\ndef two(x):\n    return x\n",
        "files = !ls\nres = %timeit -o one(1)\ndef three():\n    return 3",
        "one?\n??two\ndef four():\n    !ls\n    return 4\n",
        "%%bash\necho not python",
    ]
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    extracted = extract(parse_text(nbformat.writes(nb), suffix=".ipynb"))
    assert extracted.syntax_errors == ()
    assert {"one", "two", "three", "four"} <= set(extracted.definitions)
    magics = [s.snippet for s in extracted.skipped if "magic" in s.effects]
    for line in ("!pip install einops", "%matplotlib inline", "%%time", "%timeit one(3)"):
        assert line in magics
    assert "files = !ls" in magics and "one?" in magics and "%%bash" in magics
