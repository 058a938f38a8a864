"""The reference, submitted as a candidate: its modules as one candidate-style file, with the
model answers of ``reference/answers/`` as Markdown cells."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]

POSITIONAL_REFERENCE = ("masks", "attention", "positional", "positional_task")
"""The reference modules a complete answer to the positional-encoding test needs, in
dependency order."""


LANGUAGE_MODEL_REFERENCE = ("masks", "attention", "encoder", "positional", "model")
"""The reference modules a complete answer to the transformer test needs, in dependency order."""


def reference_as_submission(*modules: str, answers: str | None = None) -> str:
    """The reference modules as one candidate-style ``py:percent`` file: a code cell per
    module, their ``from reference...`` imports dropped (the definitions they import are in
    the file already), one ``from __future__`` line at the top; then, when ``answers`` names a
    file of ``reference/answers/``, its model answers as Markdown cells, one per question."""
    cells = ["# %%\nfrom __future__ import annotations"]
    for module in modules:
        text = (PROJECT_DIR / "reference" / f"{module}.py").read_text(encoding="utf-8")
        kept = [
            line
            for line in text.splitlines()
            if not line.startswith(("from reference", "from __future__"))
        ]
        cells.append("# %%\n" + "\n".join(kept))
    if answers:
        markdown = (PROJECT_DIR / "reference" / "answers" / f"{answers}.md").read_text(
            encoding="utf-8"
        )
        for block in re.split(r"\n(?=## )", markdown.strip()):
            cells.append(
                "# %% [markdown]\n" + "\n".join(f"# {line}".rstrip() for line in block.splitlines())
            )
    return "\n\n".join(cells) + "\n"
