# ruff: noqa
"""Forges its own result: writes into the grader's output folder, by several routes."""

import os
import pathlib
import shutil


def attack(folder):
    outcomes = {}
    target = os.path.join(folder, "result.json")
    attempts = {
        "open": lambda: open(target, "w").write('{"overall": 100}'),
        "os.open": lambda: os.open(target, os.O_WRONLY | os.O_CREAT),
        "pathlib": lambda: pathlib.Path(folder, "scorecard.html").write_text("100/100"),
        "mkdir": lambda: os.mkdir(os.path.join(folder, "forged")),
        "symlink": lambda: _via_symlink(folder),
        "copy": lambda: shutil.copy(_scratch_file(), folder),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            outcomes[name] = "written"
        except Exception as exc:
            outcomes[name] = type(exc).__name__
    return outcomes


def _scratch_file():
    with open("forged.txt", "w") as handle:  # the scratch directory is writable
        handle.write("100/100")
    return "forged.txt"


def _via_symlink(folder):
    # A link in scratch (writable) pointing at the output folder, then a write through it.
    link = f"escape-{len(os.listdir('.'))}"
    os.symlink(folder, link)
    with open(os.path.join(link, "result.json"), "w") as handle:
        handle.write("{}")
