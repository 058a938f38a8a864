"""The catalogue is what it claims to be, independently of the grader's checks.

Static tests read the entries as text. Everything that runs an entry runs it in one plain
subprocess (`probe.py` under ``python -I``), never in this process: the catalogue is
candidate-style code. The subprocess computes fixed probes for base.py and every entry; here
we check that correct entries give base.py's numbers and that each buggy entry differs from
base.py in the probe that shows its bug.
"""

import ast
import json
import math
import subprocess
import sys
from typing import Any

import pytest

from . import BASE_PATH, CATALOGUE_DIR, Entry, base_entry, entries, known_checks

PROBE_SCRIPT = CATALOGUE_DIR / "probe.py"
PROBE_TIMEOUT_S = 300
"""One subprocess runs every entry: torch import plus ~30 entries of tiny probes."""

DECLARATIONS = {"CATCHES", "MAY_CATCH", "DIFFERS_FROM_BASE"}
"""The only assignments allowed at top level: an entry's declarations."""
ALLOWED_IMPORTS = {"math", "time", "copy", "typing", "torch"}
"""What a catalogue file may import: the handout's own modules, nothing that touches disk or
network."""

SHOWN_BY: dict[str, tuple[str, ...]] = {
    "attention_ignores_dropout": ("dropout_train_changes",),
    "diagonal_masked": ("attention_masked",),
    "dropout_in_eval": ("dropout_eval_no_op",),
    "dropout_none_crash": ("mha_default",),
    "dropout_on_scores": ("dropout_masked_finite",),
    "heads_merged_no_transpose": ("mha",),
    "heads_split_no_transpose": ("mha",),
    "ignores_input": ("model_swap",),
    "key_transposed_wrong_dims": ("attention", "forward_shape"),
    "mask_fixed_length": ("attention_masked", "forward_shape"),
    "mask_inverted": ("attention_masked",),
    "masked_fill_not_assigned": ("attention_masked",),
    "mha_drops_mask": ("mha",),
    "mha_detached_projection": ("mha_trained",),
    "missing_scaling": ("attention",),
    "naive_softmax": ("attention_large",),
    "nan_mask": ("attention_masked",),
    "no_positional_encoding": ("model_swap",),
    "pe_along_batch": ("model_swap",),
    "pre_norm": ("block",),
    "norm_then_add": ("block",),
    "linear_feed_forward": ("block",),
    "feed_forward_on_input": ("block",),
    "residual_missing": ("block",),
    "scaled_by_head_dim": ("attention",),
    "scaled_by_model_dim": ("mha",),
    "seq_first_logits": ("forward_shape",),
    "softmax_wrong_dim": ("attention",),
    "square_only": ("attention_cross",),
    "train_without_mask": ("train_masks",),
    "norm_used_twice": ("block_random",),
    "activation_after_second": ("block", "block_random"),
    "loop_without_zero_grad": ("train_steps",),
    "clip_after_step": ("train_steps",),
    "dropout_before_mask": ("dropout_flat_changes",),
    "mask_sees_next": ("attention_masked",),
    "zero_grad_before_step": ("train_steps",),
}
"""For each buggy entry, the probes (see probe.py) in which its bug shows against base.py."""

Probes = dict[str, dict[str, Any]]
"""Entry name -> probe name -> ``{"ok": True, "value": ...}`` or ``{"ok": False, "error": ...}``."""

CORRECT = entries("correct")
BUGGY = entries("buggy")
ALL = [base_entry(), *CORRECT, *BUGGY]


def ids(items: list[Entry]) -> list[str]:
    return [e.name for e in items]


# --- static: the files are what the catalogue's rules say ------------------------------


@pytest.mark.parametrize("entry", ALL, ids=ids(ALL))
def test_compiles_with_only_imports_and_definitions(entry: Entry) -> None:
    compile(entry.source, f"<catalogue {entry.name}>", "exec")
    own_text = entry.source.removeprefix(BASE_PATH.read_text(encoding="utf-8") + "\n")
    tree = ast.parse(own_text)
    for node in tree.body:
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            continue
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        elif isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) in DECLARATIONS:
            continue
        else:
            code = ast.unparse(node)[:80]
            pytest.fail(f"{entry.name}: line {node.lineno} runs code at import: {code}")
        assert roots <= ALLOWED_IMPORTS, f"{entry.name}: imports {roots - ALLOWED_IMPORTS}"


def test_catalogue_sizes() -> None:
    assert len(CORRECT) >= 5
    assert len(BUGGY) >= 18


@pytest.mark.parametrize("entry", CORRECT, ids=ids(CORRECT))
def test_correct_entries_declare_no_catches(entry: Entry) -> None:
    assert entry.doc.startswith("Correct"), entry.doc
    assert entry.catches == () and entry.may_catch == ()


@pytest.mark.parametrize("entry", BUGGY, ids=ids(BUGGY))
def test_buggy_entries_name_real_checks(entry: Entry) -> None:
    known = known_checks()
    assert entry.doc.startswith("Bug:"), entry.doc
    assert entry.catches, "a buggy entry must name at least one check that catches it"
    assert set(entry.catches) <= known, f"unknown checks: {set(entry.catches) - known}"
    assert set(entry.may_catch) <= known, f"unknown checks: {set(entry.may_catch) - known}"
    assert not set(entry.catches) & set(entry.may_catch), "a check is either certain or not"


def test_every_bug_has_a_probe() -> None:
    assert set(SHOWN_BY) == set(ids(BUGGY))


# --- dynamic: run in a subprocess ------------------------------------------------------


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> Probes:
    """Probe results for base.py and every entry, computed in one isolated subprocess."""
    request = json.dumps({"entries": {e.name: e.source for e in ALL}})
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE_SCRIPT.read_text(encoding="utf-8")],
        input=request,
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        cwd=tmp_path_factory.mktemp("probe"),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two probe results agree: both values, equal within float64 rounding (NaN equals
    nothing), or both errors."""
    if a["ok"] != b["ok"]:
        return False
    return True if not a["ok"] else close(a["value"], b["value"])


def close(x: Any, y: Any) -> bool:
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(close(u, v) for u, v in zip(x, y))
    if isinstance(x, bool) or isinstance(y, bool) or x is None or y is None:
        return x == y
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)  # False when either is NaN
    return False


def test_base_runs_every_probe(probes: Probes) -> None:
    errors = {name: r["error"] for name, r in probes["base"].items() if not r["ok"]}
    assert not errors
    assert probes["base"]["forward_shape"]["value"] == [3, 5, 13]
    assert probes["base"]["model_swap"]["value"] > 1e-6  # positions reach the model
    assert probes["base"]["train_masks"]["value"] == [[4, 4], [4, 4], [4, 4], [1, 1]]


@pytest.mark.parametrize("entry", [*CORRECT, *BUGGY], ids=ids([*CORRECT, *BUGGY]))
def test_entry_loads_and_forward_has_the_right_shape(entry: Entry, probes: Probes) -> None:
    result = probes[entry.name]
    assert result["__load__"]["ok"], result["__load__"]
    if "forward_shape" not in SHOWN_BY.get(entry.name, ()):
        assert result["forward_shape"] == {"ok": True, "value": [3, 5, 13]}


@pytest.mark.parametrize("entry", CORRECT, ids=ids(CORRECT))
def test_correct_entry_agrees_with_base(entry: Entry, probes: Probes) -> None:
    base = probes["base"]
    differing = [name for name in base if not same(probes[entry.name][name], base[name])]
    assert set(differing) == set(entry.differs_from_base), {
        name: probes[entry.name][name] for name in differing
    }


@pytest.mark.parametrize("entry", BUGGY, ids=ids(BUGGY))
def test_buggy_entry_differs_from_base_where_its_bug_is(entry: Entry, probes: Probes) -> None:
    for name in SHOWN_BY[entry.name]:
        assert not same(probes[entry.name][name], probes["base"][name]), (
            f"{entry.name} gives base.py's result for probe {name}: {entry.doc}"
        )
