"""The graft behind `grader handout --check`: the reference's code in place of the handout's
stubs, and nothing else changed. (The check itself grades the graft in a sandbox: see
``tests/grader/cli/test_authorship_cli.py``.)"""

from __future__ import annotations

import ast

from grader.assignment import get
from grader.handout import handout_text
from grader.handout_check import PRELUDE, graft
from grader.intake.provenance import normalise_lines
from grader.ownership import handout_symbol_lines, stub_lines


def test_every_stub_of_the_transformer_handout_gets_the_reference() -> None:
    assignment = get("transformer_lm")
    program = graft(assignment)
    assert set(program.grafted) == {
        "attention",
        "MultiHeadSelfAttention.forward",
        "EncoderBlock.forward",
    }
    assert program.left == ()
    tree = ast.parse("\n".join(line for line in program.source.split("\n")))
    assert "NotImplementedError" not in program.source
    # The helpers the grafted code calls come along (the mask conversion, the head split),
    # the causal mask for the filled TODO lines too; the handout's own names are not redefined.
    assert {"to_additive", "causal_mask", "PER_SEQUENCE_MASK_DIMS"} <= set(program.helpers)
    assert PRELUDE in program.source and program.source.count("def attention(") == 1
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    methods = {
        f.name for f in classes["MultiHeadSelfAttention"].body if isinstance(f, ast.FunctionDef)
    }
    assert methods == {"__init__", "forward", "_split_heads"}
    assert program.filled == ("src_mask = None  # TODO: create the causal mask",) * 2


def test_the_handouts_scaffolding_is_kept_line_for_line() -> None:
    assignment = get("transformer_lm")
    program = graft(assignment)
    stubs = stub_lines(assignment.handout_source())
    replaced = set().union(
        *(handout_symbol_lines(assignment.handout_source())[name] for name in program.grafted)
    )
    grafted = set(normalise_lines(program.source))
    kept = [line for line in normalise_lines(handout_text(assignment)) if line not in stubs]
    missing = {line for line in kept if line and line not in grafted}
    assert missing and missing <= replaced  # only the stubbed definitions were replaced
    for trap in assignment.traps:
        for line in trap.lines:
            assert "".join(line.split()) in grafted, line


def test_an_interviewers_handout_is_grafted_from_its_reference_py() -> None:
    program = graft(get("examples/layernorm_mlp"))
    assert "layer_norm" in program.grafted and "MLPBlock.forward" in program.grafted
    assert program.left == ("train",)  # reference.py has no train(): left as handed out
    assert "gelu" in program.helpers
    ast.parse(program.source)
