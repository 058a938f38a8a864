"""Credit and blame by authorship, through the command line: seed 004 and three submissions
built on the handout, graded in one run, and `grader handout --check`.

The three are the handout with the reference's code in place of its stubs (what `grader
handout --check` grafts), and then, for each of the handout's three flaws:

- ``keeper``: nothing more (every flaw kept);
- ``fixer``: each flaw fixed, one of them (the loop's) around the handout's lines;
- ``worse``: the flaw's own lines changed and still wrong (``float(None)``, the positional
  table indexed by the sequence length but still seq-first, windows transposed without their
  targets).

Seed 004 is a real candidate's notebook (../shared/seeds, both formats): its multi-head
attention is right but the handout's ``__init__`` it kept crashes on ``dropout=None``, and it
kept the seq-first encoding and the loop.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from cli_support import ROOT, run_grader

from grader.assignment import get
from grader.handout_check import graft

SEEDS = ROOT / ".." / "shared" / "seeds"
TRAPS = ("dropout_none_default", "positional_seq_first", "loop_seq_first_windows")
DROPOUT = "        self.dropout = nn.Dropout(p=dropout)\n        self.linear_query"
"""The multi-head attention's dropout line (the positional encoding has the same line)."""
FIXES = {
    DROPOUT: "        self.dropout = nn.Dropout(p=dropout or 0.0)\n        self.linear_query",
    "pe = torch.zeros(max_len, 1, d_model)": "pe = torch.zeros(1, max_len, d_model)",
    "pe[:, 0, 0::2]": "pe[0, :, 0::2]",
    "pe[:, 0, 1::2]": "pe[0, :, 1::2]",
    "x = x + self.pe[:x.size(0)]": "x = x + self.pe[:, :x.size(1)]",
    # The loop: batch-first windows and targets from get_batch, a mask per window's length.
    "    data = source[i:i + seq_len]": "    data = source[i:i + seq_len].t()",
    "target = source[i + 1:i + seq_len + 1].reshape(-1)": (
        "target = source[i + 1:i + seq_len + 1].t().reshape(-1)"
    ),
    "        data, targets = get_batch(train_data, i, window_size=window_size)\n": (
        "        data, targets = get_batch(train_data, i, window_size=window_size)\n"
        "        src_mask = causal_mask(data.size(1)).to(device)\n"
    ),
    "            data, targets = get_batch(eval_data, i, window_size=window_size)\n": (
        "            data, targets = get_batch(eval_data, i, window_size=window_size)\n"
        "            src_mask = causal_mask(data.size(1)).to(device)\n"
    ),
    "total_loss += data.shape[0] * criterion": "total_loss += data.shape[1] * criterion",
}
BUGS = {
    DROPOUT: "        self.dropout = nn.Dropout(p=float(dropout))\n        self.linear_query",
    "x = x + self.pe[:x.size(0)]": "x = x + self.pe[:x.size(1)]",
    "        output = model(src=data, src_mask=src_mask)": (
        "        output = model(src=data.t(), src_mask=src_mask)"
    ),
}


def edited(source: str, edits: dict[str, str]) -> str:
    for old, new in edits.items():
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source


def seed(suffix: str) -> Path:
    found = sorted(SEEDS.glob(f"004_*{suffix}"))
    if not found:
        pytest.skip(f"seed 004 ({suffix}) not found in {SEEDS.resolve()}")
    return found[0]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One CLI run over the five: result.json by short name, with the run's folder."""
    folder = tmp_path_factory.mktemp("authorship")
    grafted = graft(get("transformer_lm")).source
    programs = {"keeper": grafted, "fixer": edited(grafted, FIXES), "worse": edited(grafted, BUGS)}
    paths = [seed(".txt"), seed(".ipynb")]
    for name, text in programs.items():
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
        paths.append(folder / f"{name}.py")
    out = folder / "out"
    done = run_grader(
        "grade", *map(str, paths), "-a", "transformer_lm", "--out", str(out), "--jobs", "2",
        "--format", "html,json,junit,markdown", timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, dict[str, Any]] = {}
    for path in out.glob("*/result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        short = path.parent.name if not path.parent.name.startswith("004") else None
        short = short or f"seed-{data['submission']['format']}"
        found[short] = {**data, "_folder": path.parent}
    assert {"keeper", "fixer", "worse"} <= set(found) and len(found) == 5, sorted(found)
    return found


def checks(result: dict[str, Any], task: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in result["tasks"][task]["checks"]}


def traps(result: dict[str, Any]) -> dict[str, str]:
    return {t["id"]: t["status"] for t in result["traps"]}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["notebook-text", "ipynb"])
def test_seed_004_passes_multi_head_attention_with_the_crash_inherited(
    results: dict[str, dict[str, Any]], fmt: str
) -> None:
    result = results[f"seed-{fmt}"]
    mha = result["tasks"]["multi_head_attention"]
    crash = checks(result, "multi_head_attention")["multi_head_attention.default_construction"]
    assert mha["status"] == "pass", mha
    assert crash["status"] == "fail" and crash["authorship"] == "handout", crash
    assert "inherited from the handout" in mha["note"]
    # The positional encoding's and the loop's failures: the handout wrote that code and the
    # candidate kept it.
    training = checks(result, "training")
    for name in ("training.model_uses_positions", "training.candidate_loop"):
        assert training[name]["status"] in ("fail", "error"), training[name]
        assert training[name]["authorship"] == "handout", training[name]
    assert traps(result) == dict.fromkeys(TRAPS, "kept")
    kept = {t["id"]: t["message"] for t in result["traps"]}
    assert "the handout wrote this code" in kept["positional_seq_first"]
    assert "submission kept it" in kept["loop_seq_first_windows"]
    folder = result["_folder"]
    markdown = (folder / "summary.md").read_text(encoding="utf-8")
    assert "**training.model\\_uses\\_positions** (fail, inherited from the handout)" in markdown
    junit = ET.parse(folder / "junit.xml")
    case = junit.find(".//testcase[@name='training.candidate_loop']")
    assert case is not None and "inherited from the handout" in case.find("skipped").get("message")
    assert "inherited from the handout</span>" in (folder / "scorecard.html").read_text()
    # Written answers are tasks too, and count once.
    assert {"question:attention_cost", "question:causal_mask_why"} <= set(result["tasks"])
    answered = sum(a["score"] for a in result["answers"])
    evidence = result["criteria"]["completion"]["evidence"]
    assert sum("Written answer" in e for e in evidence) == 2, evidence
    assert answered > 0


@pytest.mark.slow
def test_fixes_are_credited_and_kept_flaws_are_not(results: dict[str, dict[str, Any]]) -> None:
    keeper, fixer = results["keeper"], results["fixer"]
    assert traps(fixer) == dict.fromkeys(TRAPS, "fixed"), fixer["traps"]
    assert traps(keeper) == dict.fromkeys(TRAPS, "kept"), keeper["traps"]
    for result in (keeper, fixer):
        statuses = {t: result["tasks"][t]["status"] for t in ("multi_head_attention", "training")}
        assert statuses == {"multi_head_attention": "pass", "training": "pass"}, statuses
    completion = [r["criteria"]["completion"] for r in (keeper, fixer)]
    assert completion[1]["metrics"]["earned"] - completion[0]["metrics"]["earned"] >= 1.0 - 1e-9
    assert any("Handout flaw positional_seq_first: fixed" in e for e in completion[1]["evidence"])
    assert any("missed fix" in e for e in keeper["criteria"]["reusability"]["evidence"])
    reusability = [r["criteria"]["reusability"]["score"] for r in (keeper, fixer)]
    assert reusability[1] > reusability[0], reusability


@pytest.mark.slow
def test_a_bug_of_their_own_in_the_flaws_place_fails(results: dict[str, dict[str, Any]]) -> None:
    worse = results["worse"]
    assert traps(worse) == dict.fromkeys(TRAPS, "worse"), worse["traps"]
    assert worse["tasks"]["multi_head_attention"]["status"] == "fail"
    crash = checks(worse, "multi_head_attention")["multi_head_attention.default_construction"]
    assert crash["authorship"] == "changed", crash
    assert worse["tasks"]["training"]["status"] == "fail"
    failing = [c for c in worse["tasks"]["training"]["checks"] if c["status"] in ("fail", "error")]
    assert failing and all(c["authorship"] != "handout" for c in failing), failing


@pytest.mark.slow
def test_handout_check_lists_the_handouts_flaws() -> None:
    done = run_grader("handout", "--check", "transformer_lm", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    for trap in TRAPS:
        assert f"found      {trap}:" in done.stdout, done.stdout
    assert "failures no declared flaw explains (0)" in done.stdout
    assert "the handout carries exactly its declared flaws" in done.stdout
