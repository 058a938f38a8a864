"""Intake of the real submissions in ../shared/seeds, in every format they come in."""

from __future__ import annotations

import ast
import json
import re

import pytest

from grader.intake import extract, intake_record, load_submission, resolve

SEED_004 = ("004_734e6d95a3c1a91f.txt", "004_734e6d95a3c1a91f.ipynb")
SEED_000 = "000_19777d6a8ad388c9.txt"
TRANSFORMER_SYMBOLS = {
    "attention": "function",
    "MultiHeadSelfAttention": "class",
    "EncoderBlock": "class",
    "TransformerEncoder": "class",
    "PositionalEncodingTorch": "class",
    "TransformerModelManualAttn": "class",
    "get_batch": "function",
    "train": "function",
    "evaluate": "function",
}


@pytest.fixture(scope="module", params=SEED_004)
def seed004(request, seed, handout):
    sub = load_submission(seed(request.param))
    return sub, extract(sub, handout)


def lines_of(extracted, symbol):
    """(line number, text) of a definition in the extracted source."""
    definition = extracted.definitions[symbol]
    text = extracted.source.split("\n")
    return [(n, text[n - 1]) for n in range(definition.start, definition.end + 1)]


def test_004_formats_are_detected(seed004):
    sub, _ = seed004
    expected = "ipynb" if sub.path.endswith(".ipynb") else "notebook-text"
    assert sub.format == expected
    assert sub.errors == ()
    assert sub.name == "004_734e6d95a3c1a91f"
    assert len(sub.sha256) == 64


def test_004_symbols_are_found_and_attempted(seed004):
    _, extracted = seed004
    for name, kind in TRANSFORMER_SYMBOLS.items():
        assert extracted.definitions[name].kind == kind, name
        assert not extracted.definitions[name].stub, name
    assert extracted.syntax_errors == ()
    assert extracted.load_risks == ()


def test_004_extracted_program_only_defines(seed004):
    _, extracted = seed004
    tree = ast.parse(extracted.source)
    for stmt in tree.body:
        assert isinstance(
            stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign)
        ), ast.unparse(stmt)[:80]
    top_level_calls = {
        ast.unparse(node.value.func)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
    }
    assert top_level_calls <= {"float"}  # best_val_loss = float('inf')
    assert "PennTreebank()" not in extracted.source


def test_004_work_is_skipped_with_reasons(seed004):
    _, extracted = seed004
    by_snippet = {s.snippet: s for s in extracted.skipped}
    download = by_snippet["train_iter, val_iter, test_iter = PennTreebank()"]
    assert "download" in download.effects and "PennTreebank" in download.reason
    loop = by_snippet["for epoch in range(1, epochs + 1):"]
    assert {"loop", "training", "file-write"} <= set(loop.effects)
    assert "torch.save()" in loop.reason and "train()" in loop.reason
    reload = next(s for s in extracted.skipped if s.snippet.startswith("model.load_state_dict"))
    assert "file-read" in reload.effects
    model = next(s for s in extracted.skipped if s.snippet.startswith("model = "))
    assert "instantiation" in model.effects


def test_004_notebook_facts(seed004):
    _, extracted = seed004
    rules = [f.rule for f in extracted.facts]
    assert rules.count("notebook.never-run") == 2
    never_run = next(f for f in extracted.facts if f.symbol == "get_batch")
    assert "train" in never_run.message and "evaluate" in never_run.message
    assert never_run.line == extracted.definitions["get_batch"].start
    order = next(f for f in extracted.facts if f.rule == "notebook.out-of-order")
    assert "39, 50, 51, 52, 53, 42, 43, 58" in order.message
    stale = [f for f in extracted.facts if f.rule == "notebook.stale-output"]
    assert len(stale) == 1 and '"Weights:"' in stale[0].message
    assert all(f.criterion == "notebook" for f in extracted.facts)


def test_004_inline_mask_is_resolved(seed004, transformer):
    _, extracted = seed004
    mask = resolve(extracted, transformer)["causal_mask"]
    assert (mask.resolved_by, mask.symbol) == ("inline", "train")
    assert mask.where and "torch.tril" in mask.where[0]
    assert any("evaluate()" in w for w in mask.where)
    assert "top level, cell 14" in mask.where[-1]  # the one-iteration cell's mask


def test_004_tasks_resolve_by_name(seed004, transformer):
    _, extracted = seed004
    resolved = resolve(extracted, transformer)
    for task, symbol in [
        ("attention", "attention"),
        ("multi_head_attention", "MultiHeadSelfAttention"),
        ("encoder_block", "EncoderBlock"),
        ("training", "TransformerModelManualAttn"),
    ]:
        assert (resolved[task].symbol, resolved[task].resolved_by) == (symbol, "name")
    assert resolved["training"].parts == {
        "model": "TransformerModelManualAttn",
        "train": "train",
        "evaluate": "evaluate",
    }


def test_004_candidate_lines(seed004):
    _, extracted = seed004
    mine = extracted.candidate_lines

    def code_lines(symbol):
        return [(n, t) for n, t in lines_of(extracted, symbol) if t.strip()]

    attention = code_lines("attention")
    body = [
        (n, t) for n, t in attention if "math.sqrt" in t or "masked_fill" in t or "softmax" in t
    ]
    assert len(body) == 3 and all(n in mine for n, _ in body)
    signature_and_docstring = attention[:8]  # def line, then 7 non-blank docstring lines
    assert not any(n in mine for n, _ in signature_and_docstring)

    mha = code_lines("MultiHeadSelfAttention")
    forward_at = next(k for k, (_, t) in enumerate(mha) if "def forward" in t)
    init = mha[:forward_at]
    body = [(n, t) for n, t in mha[forward_at:] if "self.linear_" in t or ".view(" in t]
    assert body and all(n in mine for n, _ in body)
    assert not any(n in mine for n, _ in init)

    assert not any(n in mine for n, _ in code_lines("TransformerEncoder"))
    assert not any(n in mine for n, _ in code_lines("PositionalEncodingTorch"))
    train_mask = [n for n, t in code_lines("train") if "torch.tril" in t]
    assert train_mask and set(train_mask) <= mine
    device = next(
        n for n, t in enumerate(extracted.source.split("\n"), 1) if t.startswith("device")
    )
    assert device in mine


def test_004_both_formats_give_the_same_program(seed, handout):
    text, notebook = (load_submission(seed(name)) for name in SEED_004)
    assert [c.kind for c in text.cells] == [c.kind for c in notebook.cells]

    def squeeze(value):
        return re.sub(r"\s+", " ", value).strip()

    for a, b in zip(text.cells, notebook.cells):
        assert squeeze(a.source) == squeeze(b.source), a.index
        assert squeeze(a.outputs) == squeeze(b.outputs), a.index
        assert a.execution_count == b.execution_count, a.index
    left, right = extract(text, handout), extract(notebook, handout)
    assert left.source == right.source
    assert left.candidate_lines == right.candidate_lines


def test_004_text_export_keeps_outputs_out_of_code(seed):
    sub = load_submission(seed(SEED_004[0]))
    by_source = {c.source: c for c in sub.code_cells}
    shape = by_source["batch_win1.shape"]
    assert shape.outputs == "torch.Size([35, 20])"
    for cell in sub.code_cells:
        assert "tensor([[" not in cell.source
        assert not re.search(r"^torch\.Size|^Weights:", cell.source, re.MULTILINE)
    prose = "\n".join(c.source for c in sub.cells if c.kind == "markdown")
    assert "## Modeling" in prose and "#### Objective Function" in prose


def test_004_written_answers_are_in_the_prose(seed004):
    _, extracted = seed004
    prose = "\n".join(text for _, text in extracted.markdown)
    assert "Describe the attention complexity" in prose
    assert "Why use a causal mask" in prose


def test_000_markdown_answer(seed, handout):
    sub = load_submission(seed(SEED_000))
    assert sub.format == "markdown"
    extracted = extract(sub, handout)
    for name, kind in [
        ("PositionalEncoding", "class"),
        ("SelfAttentionModel", "class"),
        ("create_dummy_data", "function"),
    ]:
        assert extracted.definitions[name].kind == kind
    assert extracted.syntax_errors == ()  # the pasted training log is output, not code
    training = next(c for c in sub.code_cells if "Epoch 20, Loss" in c.outputs)
    assert "for epoch in range(num_epochs)" in training.source
    loop = next(s for s in extracted.skipped if s.snippet.startswith("for epoch"))
    assert {"loop", "training"} <= set(loop.effects)
    assert {"seq_len", "d_model", "batch_size", "n_heads"} <= set(extracted.definitions)
    assert "model" not in extracted.definitions
    assert extracted.facts == ()  # Markdown keeps no execution counts
    # nothing of it came with the transformer handout
    assert len(extracted.candidate_lines) > 20


def test_intake_record_is_json(seed004, transformer):
    sub, extracted = seed004
    record = intake_record(sub, extracted, resolve(extracted, transformer))
    data = json.loads(json.dumps(record))
    assert data["format"] == sub.format
    assert data["resolutions"]["causal_mask"]["resolved_by"] == "inline"
    assert data["definitions"]["attention"] == {
        "kind": "function",
        "lines": [extracted.definitions["attention"].start, extracted.definitions["attention"].end],
        "cell": 2,
        "stub": False,
    }
    assert len(data["skipped"]) == len(extracted.skipped) and data["facts"]
