"""The reference implementations as source text, for loading into a worker of their own.

The training check's baseline (``reference_model``) and the timings run the reference in a
sandboxed worker, exactly as they run a candidate, so both are measured under the same limits.
The worker cannot import the project (its folders are not mounted), so the reference package
travels as strings, like a submission does.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import reference

REFERENCE_DIR = Path(reference.__file__).resolve().parent
MODEL_MODULES = ("masks", "attention", "encoder", "positional", "model")
"""The modules the reference language model needs, in import order."""


@cache
def reference_modules(names: tuple[str, ...] = MODEL_MODULES) -> dict[str, str]:
    """``{"reference": ..., "reference.masks": ..., ...}``: the package's ``__init__`` and the
    named modules, ready for `Sandbox.load_modules`."""
    modules = {"reference": (REFERENCE_DIR / "__init__.py").read_text(encoding="utf-8")}
    for name in names:
        modules[f"reference.{name}"] = (REFERENCE_DIR / f"{name}.py").read_text(encoding="utf-8")
    return modules
