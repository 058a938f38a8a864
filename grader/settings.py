"""The settings a grade was made under, as a reader sees them, and when two runs differ.

A grade means something only with its settings: ``smoke`` runs three examples a property
and a few training steps (it checks that the grader works, it is not a grade), ``quick``
and ``full`` differ tenfold in training, and the synthetic corpus and Penn Treebank give
different losses. So every result records its settings (``environment["settings"]``, set
by `grader.batch`), every report shows them at the top, a batch refuses to mix them in one
output folder, and ``grader summary`` refuses to rank results made under different ones
unless told to (``--mixed-settings``), naming what differs.

`of_run` is what a run records; `of_result` reads it back (or, for a result written before
settings were recorded, rebuilds what it can from the environment).
"""

from __future__ import annotations

from typing import Any

from grader.config import GraderConfig

SHOWN = ("assignment", "budget", "corpus", "splits", "seed", "device")
"""The settings a reader needs to compare grades, in the order they are shown."""
RUN_ONLY = ("map", "main")
"""Settings of a run that do not make two grades incomparable (which symbol --map names in
one batch of candidates) but do make a rerun into the same folder a different run."""
LABELS = {
    "assignment": "assignment",
    "budget": "budget",
    "corpus": "corpus",
    "splits": "splits",
    "seed": "seed",
    "device": "device",
    "map": "--map",
    "main": "--main",
}
CORPUS_KIND = "lm_training"
"""The training kind that trains on a corpus (synthetic or Penn Treebank, `--data-dir`)."""
NOT_A_GRADE = (
    "Smoke budget: not a grade. The smoke budget runs a handful of examples per property and "
    "a few training steps to check that the grader works; regrade with --budget quick (or "
    "larger) before comparing candidates."
)
"""The banner on every report of a ``smoke`` result."""


def of_run(assignment: Any, config: GraderConfig, overrides: dict[str, str]) -> dict[str, Any]:
    """The settings a batch records in each of its results and in its ``summary.json``."""
    trains = (
        [t.kind for t in assignment.training_tasks()]
        if hasattr(assignment, "training_tasks")
        else []
    )
    if CORPUS_KIND in trains:  # a language model trained on a corpus: which one matters
        corpus = f"ptb-dir:{config.data_dir}" if config.data_dir else "synthetic"
        splits = "→".join(config.splits) if config.data_dir else "train→valid"
    else:  # the kind's own task (the positional dummy task, the reference's data), or none
        corpus = ", ".join(trains) or "none"
        splits = "—"
    return {
        "assignment": assignment.id,
        "budget": config.budget,
        "corpus": corpus,
        "splits": splits,
        "seed": config.seed,
        "device": config.device,
        "map": dict(sorted(overrides.items())),
        "main": config.intake.main,
    }


def of_result(result: Any) -> dict[str, Any]:
    """The settings ``result`` was graded under: as recorded, or rebuilt from its
    environment (results written before settings were recorded; unknown ones left out)."""
    environment = result.environment or {}
    recorded = environment.get("settings")
    if isinstance(recorded, dict):
        return dict(recorded)
    rebuilt: dict[str, Any] = {"assignment": result.assignment}
    for key in ("budget", "seed", "device"):
        if environment.get(key) is not None:
            rebuilt[key] = environment[key]
    corpus = str(environment.get("corpus") or "")
    if corpus == "synthetic" or corpus.startswith("ptb"):  # named as `of_run` names them
        rebuilt["corpus"] = corpus
        if environment.get("splits"):
            rebuilt["splits"] = "→".join(str(s) for s in environment["splits"])
    return rebuilt


def differences(
    ours: dict[str, Any], theirs: dict[str, Any], keys: tuple[str, ...] = SHOWN + RUN_ONLY
) -> list[str]:
    """What differs between two settings, in words (``budget: quick vs smoke``); a key
    one side does not know is not a difference."""
    out = []
    for key in keys:
        if key in ours and key in theirs and ours[key] != theirs[key]:
            out.append(f"{LABELS[key]}: {shown(ours[key])} vs {shown(theirs[key])}")
    return out


def spread(settings: list[dict[str, Any]], keys: tuple[str, ...] = SHOWN) -> dict[str, list[str]]:
    """For each key on which ``settings`` disagree, the values seen (in order of appearance)."""
    out: dict[str, list[str]] = {}
    for key in keys:
        values = list(dict.fromkeys(shown(s[key]) for s in settings if key in s))
        if len(values) > 1:
            out[key] = values
    return out


def describe(settings: dict[str, Any], keys: tuple[str, ...] | list[str] = SHOWN) -> str:
    """One line for a report or a console: ``budget quick · corpus synthetic · ...``
    (``keys``: which settings, e.g. only those on which a batch disagrees)."""
    return " · ".join(f"{LABELS[k]} {shown(settings[k])}" for k in keys if k in settings)


def shown(value: Any) -> str:
    """A setting's value in words."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return str(value)


def is_smoke(settings: dict[str, Any]) -> bool:
    return settings.get("budget") == "smoke"
