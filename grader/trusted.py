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
from grader.config import GraderConfig
from grader.sandbox import Sandbox

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


class ReferenceUnavailable(RuntimeError):
    """The reference could not be loaded into a worker (the message says why)."""


def start_reference(config: GraderConfig) -> Sandbox:
    """A started worker holding the reference package only, under the candidate's limits.
    One serves the training baseline and the timings of a submission; the caller closes it."""
    worker = Sandbox(config.sandbox, device=config.device, seed=config.seed, label="reference")
    worker.start()
    report = worker.load_modules(reference_modules(), main="reference.model")
    if not report.ok:
        worker.close()
        raise ReferenceUnavailable(f"the reference did not load in its worker: {report.error}")
    return worker
