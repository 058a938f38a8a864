"""The transformer test's handout: what it gives, what it leaves to the candidate, and that
it agrees with assignment.toml."""

from __future__ import annotations

import ast

from grader.intake import extract, parse_text

GIVEN = ("TransformerEncoder", "PositionalEncodingTorch", "TransformerModelManualAttn",
         "get_batch", "train", "evaluate")  # fmt: skip
TO_WRITE = ("attention", "MultiHeadSelfAttention", "EncoderBlock")


def handout_program(handout):
    sub = parse_text(handout, name="handout", suffix=".py")
    return sub, extract(sub, handout)


def constants(extracted):
    """Kept constants of the extracted source, evaluated as literals."""
    values = {}
    for stmt in ast.parse(extracted.source).body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            try:
                values[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                pass
    return values


def test_handout_is_py_percent_and_parses(handout):
    sub, extracted = handout_program(handout)
    assert sub.format == "py-percent" and sub.errors == ()
    assert extracted.syntax_errors == ()
    assert sub.cells[0].kind == "markdown"


def test_handout_leaves_the_tasks_as_placeholders(handout):
    _, extracted = handout_program(handout)
    for name in TO_WRITE:
        assert extracted.definitions[name].stub, name
    for name in GIVEN:
        assert not extracted.definitions[name].stub, name
    assert "torch.tril" not in handout and "masked_fill" not in handout
    assert handout.count("src_mask = None  # TODO: create the causal mask") == 2


def test_handout_has_no_candidate_lines_against_itself(handout):
    _, extracted = handout_program(handout)
    assert extracted.candidate_lines == frozenset()


def test_handout_asks_the_assignment_questions(handout, transformer):
    _, extracted = handout_program(handout)
    prose = "\n".join(text for _, text in extracted.markdown)
    for question in transformer.questions:
        assert question.prompt in prose, question.id


def test_handout_matches_the_training_setup(handout, transformer):
    _, extracted = handout_program(handout)
    options = transformer.task("training").options
    values = constants(extracted)
    assert values["emsize"] == options.d_model
    for name in ("d_hid", "nlayers", "nhead", "dropout", "lr", "bptt", "batch_size"):
        assert values[name] == getattr(options, name), name
    assert values["eval_batch_size"] == options.eval_batch_size
    assert values["epochs"] == options.epochs == 10  # what --budget full trains
    assert "StepLR(optimizer, step_size=1, gamma=0.95)" in handout
    assert "clip_grad_norm_(model.parameters(), 0.5)" in handout


def test_handout_positional_encoding_is_sequence_first(handout):
    _, extracted = handout_program(handout)
    lines = extracted.source.split("\n")
    definition = extracted.definitions["PositionalEncodingTorch"]
    body = "\n".join(lines[definition.start - 1 : definition.end])
    assert "pe = torch.zeros(max_len, 1, d_model)" in body
    assert "x = x + self.pe[:x.size(0)]" in body
