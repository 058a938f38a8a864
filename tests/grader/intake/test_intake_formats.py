"""Every accepted format, written small in tmp_path, and the extraction rules on them."""

from __future__ import annotations

import textwrap

from grader.intake import extract, load_submission


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_py_percent(tmp_path):
    path = write(
        tmp_path,
        "answer.py",
        """
        # %% [markdown]
        # # My answer
        # Attention costs O(n^2).

        # %%
        import torch

        # %%
        def causal_mask(size):
            return torch.tril(torch.ones(size, size, dtype=torch.bool))

        print(causal_mask(3))
        """,
    )
    sub = load_submission(path)
    assert sub.format == "py-percent"
    assert [c.kind for c in sub.cells] == ["markdown", "code", "code"]
    assert sub.cells[0].source.startswith("# My answer\nAttention costs")
    assert sub.cells[2].line_offset == 8  # file line = offset + line in cell
    extracted = extract(sub)
    assert extracted.definitions["causal_mask"].kind == "function"
    assert extracted.line_map[extracted.definitions["causal_mask"].start] == (2, 1)
    assert [s.snippet for s in extracted.skipped] == ["print(causal_mask(3))"]


def test_plain_python_with_entry_point(tmp_path):
    path = write(
        tmp_path,
        "solution.py",
        """
        import math
        import torch

        SCALE = 1 / math.sqrt(64)
        DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        HIDDEN = 4 * 64

        def attention(q, k, v, mask=None, dropout=None):
            return (q @ k.transpose(-2, -1) * SCALE).softmax(-1) @ v

        if __name__ == "__main__":
            torch.save(attention, "out.pt")
        """,
    )
    sub = load_submission(path)
    assert (sub.format, len(sub.cells)) == ("py", 1)
    extracted = extract(sub)
    assert {"SCALE", "DEVICE", "HIDDEN", "attention"} <= set(extracted.definitions)
    (guard,) = extracted.skipped
    assert {"main-guard", "file-write"} <= set(guard.effects)
    assert "__main__" not in extracted.source


def test_nbconvert_script_keeps_execution_counts(tmp_path):
    path = write(
        tmp_path,
        "exported.py",
        """
        #!/usr/bin/env python
        # coding: utf-8

        # In[3]:


        import torch


        # In[ ]:


        x = torch.zeros(2)
        """,
    )
    sub = load_submission(path)
    assert sub.format == "py"
    assert [c.execution_count for c in sub.code_cells] == [3, None]


def test_markdown_with_fences_and_output(tmp_path):
    path = write(
        tmp_path,
        "answer.md",
        """
        # Answer

        ```python
        def loss_line(epoch, loss):
            print(f"epoch {epoch} loss {loss:.2f}")
        ```

        ```text
        epoch 1 loss 2.31
        ```

        ```bash
        pip install torch
        ```

        The ```inline``` code is prose.
        """,
    )
    sub = load_submission(path)
    assert sub.format == "markdown"
    code = sub.code_cells
    assert len(code) == 1 and code[0].outputs == "epoch 1 loss 2.31"
    prose = "\n".join(c.source for c in sub.cells if c.kind == "markdown")
    assert "pip install torch" in prose and "```inline``` code is prose" in prose


def test_notebook_text_outputs_that_parse_as_python(tmp_path):
    path = write(
        tmp_path,
        "export.txt",
        """
        Some intro prose.

        In [1]:
        x = 5
        print(f"x = {x}")

        x = 5


        In [2]:
        import torch
        t = torch.ones(2, 2)
        t

        tensor([[1., 1.],
                [1., 1.]])

        ## Next section

        In [ ]:
        def f(a):
            b = a + 1

            return b
        """,
    )
    sub = load_submission(path)
    assert sub.format == "notebook-text"
    kinds = [c.kind for c in sub.cells]
    assert kinds == ["markdown", "code", "code", "markdown", "code"]
    first, second, third = sub.code_cells
    assert first.source == 'x = 5\nprint(f"x = {x}")' and first.outputs == "x = 5"
    assert second.source.endswith("\nt") and second.outputs.startswith("tensor([[1., 1.]")
    assert third.execution_count is None and third.source.endswith("return b")
    assert sub.cells[3].source == "## Next section"


def test_ipynb_outputs_and_counts(write_notebook):
    path = write_notebook(
        ("markdown", "# Title"),
        ("code", "import torch", 1),
        ("code", "print('hi')", 2, "hi\n"),
    )
    sub = load_submission(path)
    assert sub.format == "ipynb" and sub.errors == ()
    assert [c.execution_count for c in sub.code_cells] == [1, 2]
    assert sub.code_cells[1].stdout == "hi\n"
    assert extract(sub).facts == ()  # ran in order, output explained


def test_magics_are_commented_out(write_notebook):
    path = write_notebook(
        ("code", "%matplotlib inline\n!pip install portalocker\nimport torch", 1),
        ("code", "%%bash\necho hi", 2),
        ("code", "for i in range(2):\n    !echo $i\nW = 3", 3),
    )
    extracted = extract(load_submission(path))
    assert extracted.syntax_errors == ()
    assert "torch" in extracted.definitions and "W" in extracted.definitions
    magics = [s for s in extracted.skipped if "magic" in s.effects]
    assert [s.snippet for s in magics] == [
        "%matplotlib inline",
        "!pip install portalocker",
        "%%bash",
        "!echo $i",
    ]


def test_redefinition_keeps_the_last(write_notebook):
    path = write_notebook(
        ("code", "def attention(q, k, v):\n    return q", 1),
        ("code", "class Base:\n    pass", 2),
        ("code", "class Child(Base):\n    pass", 3),
        ("code", "def attention(q, k, v):\n    return v", 4),
        ("code", "class Base:\n    x = 1", 5),
    )
    extracted = extract(load_submission(path))
    assert extracted.source.count("def attention") == 1
    assert "return v" in extracted.source and "return q" not in extracted.source
    by_name = {r.name: r for r in extracted.redefinitions}
    assert (by_name["attention"].first_cell, by_name["attention"].cell) == (0, 3)
    assert not by_name["attention"].kept_both
    # Child inherits the first Base while being defined, so both Bases stay.
    assert by_name["Base"].kept_both and extracted.source.count("class Base") == 2


def test_values_needing_skipped_work_are_skipped(write_notebook):
    path = write_notebook(
        ("code", "import torch\nvocab = build()\nntokens = len(vocab)\nemsize = 2 * 100", 1),
        ("code", "def encode(text):\n    return vocab(text)", 2),
        ("code", "model = torch.nn.Linear(emsize, emsize)\nlayer.weight = 3", 3),
        ("code", "def evaluate(model, data=val_data):\n    return data", 4),
    )
    extracted = extract(load_submission(path))
    assert "emsize" in extracted.definitions and "ntokens" not in extracted.definitions
    reasons = {s.snippet: s for s in extracted.skipped}
    assert "`vocab`" in reasons["ntokens = len(vocab)"].reason
    assert "modifies-object" in reasons["layer.weight = 3"].effects
    assert extracted.definitions["encode"].missing_globals == ("vocab",)
    (risk,) = extracted.load_risks
    assert risk.startswith("`evaluate` (cell 3, line 1) uses `val_data` while being defined")
