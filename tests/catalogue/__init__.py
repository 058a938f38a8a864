"""The catalogue of correct and buggy implementations of the transformer test.

`base.py` is a correct, complete submission. Each file in `correct/` and `buggy/` holds only
the definitions that differ from it; an entry's source is `base.py`, a newline, then the
entry, so the entry's definitions replace the base's when the source runs.

A buggy entry declares, at module level:

- ``CATCHES``: check names (``task.check`` from docs/ARCHITECTURE.md) that must not pass on
  it: their property is false for the entry (they end ``fail`` or ``error``);
- ``MAY_CATCH`` (optional): checks that fail on it depending on details of the check, such
  as the sizes it draws or whether it uses the candidate's own attention.

``CATCHES`` follows each check's definition in docs/ARCHITECTURE.md, read as DESIGN.md asks:
causal checks apply the candidate's own mask with the candidate's own attention; the mask's
convention is the one its function returns; ``multi_head_attention.matches_reference``
rebuilds the reference from the candidate's projection weights; ``encoder_block`` checks
build the block around the candidate's own attention module (so attention bugs are only
``MAY_CATCH`` there); ``training.model_uses_positions`` must see a model with no positional
information, which a comparison under a causal mask cannot (causal attention leaks order
from the second layer on).

An entry that changes one method of a base class rebinds the name to a subclass
(``class EncoderBlock(EncoderBlock): def forward...``), so the bug stays the only difference.
Entries are read as text and parsed, never imported: the catalogue is candidate-style code,
and candidate code runs only in a subprocess.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_DIR = Path(__file__).resolve().parent
BASE_PATH = CATALOGUE_DIR / "base.py"
ARCHITECTURE = CATALOGUE_DIR.parents[1] / "docs" / "ARCHITECTURE.md"
KINDS = ("correct", "buggy")


@dataclass(frozen=True)
class Entry:
    """One catalogue entry, ready to hand to a worker."""

    name: str
    """File stem, e.g. ``missing_scaling``; ``base`` for the base itself."""
    source: str
    """The full submission: base.py followed by the entry's definitions."""
    catches: tuple[str, ...]
    """Checks that must not pass on this entry (empty for correct entries)."""
    may_catch: tuple[str, ...]
    """Checks that may fail on it, depending on how the check is built."""
    doc: str
    """The entry's docstring: its style, or its bug in a sentence."""
    differs_from_base: tuple[str, ...] = ()
    """For a correct entry, the probes (probe.py) where its style legitimately gives other
    numbers than base.py (``DIFFERS_FROM_BASE``: another activation, a model that masks
    itself); every other probe must agree."""


def base_entry() -> Entry:
    """The base submission as an entry of its own."""
    text = BASE_PATH.read_text(encoding="utf-8")
    return Entry("base", text, (), (), _docstring(ast.parse(text), BASE_PATH))


def load_entry(kind: str, name: str) -> Entry:
    """The entry ``<kind>/<name>.py``, kind being ``correct`` or ``buggy``."""
    if kind not in KINDS:
        raise ValueError(f"unknown catalogue kind {kind!r}; expected one of {KINDS}")
    path = CATALOGUE_DIR / kind / f"{name}.py"
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    return Entry(
        name=name,
        source=BASE_PATH.read_text(encoding="utf-8") + "\n" + text,
        catches=_names_list(tree, "CATCHES", path),
        may_catch=_names_list(tree, "MAY_CATCH", path),
        doc=_docstring(tree, path),
        differs_from_base=_names_list(tree, "DIFFERS_FROM_BASE", path),
    )


def entries(kind: str) -> list[Entry]:
    """Every entry of one kind, sorted by name."""
    if kind not in KINDS:
        raise ValueError(f"unknown catalogue kind {kind!r}; expected one of {KINDS}")
    return [load_entry(kind, path.stem) for path in sorted((CATALOGUE_DIR / kind).glob("*.py"))]


def known_checks() -> frozenset[str]:
    """Every ``task.check`` name of the transformer test: each task's kind declares its checks
    (the same declarations docs/ARCHITECTURE.md's table is generated from), the one list of
    check names the catalogue and the example submissions may refer to."""
    from grader import assignment, kinds

    return frozenset(
        f"{task.id}.{check.name}"
        for task in assignment.get("transformer_lm").tasks
        for check in kinds.get(task.kind).checks
    )


def _docstring(tree: ast.Module, path: Path) -> str:
    doc = ast.get_docstring(tree)
    if not doc:
        raise ValueError(f"{path}: a catalogue file needs a module docstring")
    return doc


def _names_list(tree: ast.Module, variable: str, path: Path) -> tuple[str, ...]:
    """The literal list assigned to `variable` at module level (empty when absent)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == variable for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ValueError(f"{path}: {variable} must be a list of check names")
            return tuple(value)
    return ()
