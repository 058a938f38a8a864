"""Notebook facts on small notebooks, and the output reading they rest on."""

from __future__ import annotations

import ast

import pytest

from grader.intake import extract, load_submission
from grader.intake.printed import explained, is_value_display, print_templates


def facts(path):
    return {f.rule: f for f in extract(load_submission(path)).facts}


def test_print_templates_explain_what_prints_can_show():
    code = 'print(f"loss {l:.2f} at {s}")\nprint("%d items" % n)\nprint(x)\nprint("-" * 9)'
    templates = print_templates(ast.parse(code))
    assert explained("loss 0.25 at 3  ", templates)
    assert explained("12 items", templates)
    assert not explained("gain 0.25 at 3", templates)
    assert len(templates) == 2  # print(x) and print("-" * 9) could show anything


@pytest.mark.parametrize(
    ("text", "display"),
    [
        ("torch.Size([35, 20])", True),
        ("tensor([[1, ...], [2, 3]], device='cpu')", True),
        ("Weights:  torch.Size([20, 2, 35, 35])", True),
        ("(35, 20)", True),
        ("model.eval()", False),
        ("torch.manual_seed(0)", False),
        ("x: int", False),
    ],
)
def test_value_displays_are_not_code(text, display):
    assert is_value_display(ast.parse(text)) is display


def test_stale_label(write_notebook):
    path = write_notebook(
        ("code", "def f(x):\n    return x", 1),
        ("code", "y = f(3)", 2, "Weights: 3\n"),
        ("code", "print('Loss:', 1)", 3, "Loss: 1\n"),
    )
    found = facts(path)
    assert set(found) == {"notebook.stale-output"}
    assert '"Weights:"' in found["notebook.stale-output"].message


def test_computed_labels_are_not_judged(write_notebook):
    path = write_notebook(
        ("code", "for k, v in {'a': 1}.items():\n    print(f'{k}: {v}')", 1, "Weights: 3\n"),
    )
    assert facts(path) == {}


def test_output_of_code_that_cannot_show_anything(write_notebook):
    path = write_notebook(("code", "x = 1", 1, "hello\n"))
    assert "cannot show anything" in facts(path)["notebook.stale-output"].message


def test_never_run_and_out_of_order(write_notebook):
    path = write_notebook(
        ("code", "import math", 2),
        ("code", "def f():\n    return 1", 1),
        ("code", "# only a comment", None),
        ("code", "def g():\n    return 2", None),
    )
    found = extract(load_submission(path)).facts
    never = [f for f in found if f.rule == "notebook.never-run"]
    assert [f.symbol for f in never] == ["g"]  # the comment-only cell is not code
    order = next(f for f in found if f.rule == "notebook.out-of-order")
    assert "2, 1" in order.message


def test_notebook_saved_without_running(write_notebook):
    path = write_notebook(("code", "import math", None), ("code", "x = 1", None))
    (fact,) = extract(load_submission(path)).facts
    assert fact.rule == "notebook.never-run" and "None of the 2 code cells" in fact.message
