"""Resolution of task symbols: names, aliases, overrides, inline masks, placeholders."""

from __future__ import annotations

import textwrap

import pytest

from grader.intake import extract, parse_text, resolve

MHA_BODY = """
    def __init__(self, dim, n_heads, dropout=None):
        super().__init__()

    def forward(self, query, key, value, mask=None):
        return query
"""


def resolved(code, assignment, handout="", **overrides):
    sub = parse_text(textwrap.dedent(code), suffix=".py")
    return resolve(extract(sub, handout), assignment, overrides)


def test_alias_and_close_names(transformer):
    code = (
        "import torch.nn as nn\n"
        f"class MultiHeadAttention(nn.Module):{MHA_BODY}\n"
        "def scaled_dot_product_attention(q, k, v, mask=None, dropout=None):\n    return v\n"
        "class Encoder_Layer(nn.Module):\n    def forward(self, x, mask=None):\n        return x\n"
    )
    result = resolved(code, transformer)
    assert (result["multi_head_attention"].symbol, result["multi_head_attention"].resolved_by) == (
        "MultiHeadAttention",
        "alias",
    )
    assert result["attention"].symbol == "scaled_dot_product_attention"
    assert result["encoder_block"].symbol == "Encoder_Layer"  # case and underscores ignored
    assert "taken for the handout's `EncoderBlock`" in result["encoder_block"].message


def test_close_match_of_the_right_kind_only(transformer, handout):
    code = (
        "import torch.nn as nn\n"
        f"class MultiHeadAttn(nn.Module):{MHA_BODY}\n"
        "def multi_head_attn(x):\n    return x\n"
    )
    result = resolved(code, transformer, handout)["multi_head_attention"]
    assert (result.symbol, result.resolved_by, result.kind) == ("MultiHeadAttn", "alias", "class")


def test_override_wins_and_fails_loudly(transformer):
    code = (
        "def attention(q, k, v, mask=None, dropout=None):\n    return v\n"
        "def my_attention(q, k, v, mask=None, dropout=None):\n    return q\n"
    )
    result = resolved(code, transformer, attention="my_attention")["attention"]
    assert (result.symbol, result.resolved_by) == ("my_attention", "override")
    missing = resolved(code, transformer, attention="nope")["attention"]
    assert not missing.found and "no function or class `nope`" in missing.message
    with pytest.raises(ValueError, match="unknown task"):
        resolved(code, transformer, not_a_task="attention")


def test_training_loop_override(transformer):
    code = "class TransformerLM:\n    pass\n\ndef fit(model):\n    pass\n\ndef train(model):\n    return 1\n"
    result = resolved(code, transformer, **{"training.train": "fit"})["training"]
    assert result.parts == {"model": "TransformerLM", "train": "fit", "evaluate": None}
    assert "evaluate: none found" in result.message


def test_handout_placeholders_count_as_not_attempted(transformer, handout):
    result = resolve(extract(parse_text(handout, suffix=".py"), handout), transformer)
    for task in ("attention", "multi_head_attention", "encoder_block"):
        assert not result[task].found, task
        assert "placeholder" in result[task].message, task
    assert not result["causal_mask"].found  # the handout builds no mask
    assert result["training"].symbol == "TransformerModelManualAttn"  # given, not a stub


def test_placeholder_passed_over_for_a_real_alias(transformer, handout):
    code = (
        "def attention(q, k, v, mask=None, dropout=None):\n    raise NotImplementedError\n"
        "def scaled_dot_product(q, k, v, mask=None, dropout=None):\n    return v\n"
    )
    result = resolved(code, transformer, handout)["attention"]
    assert result.symbol == "scaled_dot_product"
    assert result.candidates_considered == ("attention", "scaled_dot_product")
    assert "placeholder" in result.message


def test_mask_function_beats_inline_and_inline_outside_functions(transformer):
    with_function = resolved(
        "import torch\n"
        "def generate_square_subsequent_mask(n):\n    return torch.triu(torch.ones(n, n), 1)\n"
        "def train(model):\n    mask = torch.tril(torch.ones(3, 3))\n",
        transformer,
    )["causal_mask"]
    assert (with_function.symbol, with_function.resolved_by) == (
        "generate_square_subsequent_mask",
        "name",
    )
    top_level = resolved("import torch\nmask = torch.tril(torch.ones(5, 5))\n", transformer)
    mask = top_level["causal_mask"]
    assert (mask.resolved_by, mask.symbol) == ("inline", None)
    assert "top level" in mask.message


def test_missing_symbol_says_what_was_looked_for(transformer):
    result = resolved(
        "def attention(q, k, v, mask=None, dropout=None):\n    return v\n", transformer
    )
    assert result["attention"].found
    block = result["encoder_block"]
    assert (block.symbol, block.resolved_by) == (None, None)
    assert block.message.startswith("not found") and "`EncoderBlock`" in block.message


def test_reads_of_skipped_globals_are_noted(transformer):
    code = "vocab = load()\n\ndef attention(q, k, v, mask=None, dropout=None):\n    return vocab\n"
    assert "`vocab`" in resolved(code, transformer)["attention"].message
