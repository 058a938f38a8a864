# ruff: noqa
"""Looks for the answers: imports reference/ and the grader, reads their files and the tests."""

import importlib
import os


def attack(paths):
    outcomes = {}
    for module in ("reference", "reference.attention", "grader", "grader.checks"):
        try:
            importlib.import_module(module)
            outcomes[f"import {module}"] = "imported"
        except Exception as exc:
            outcomes[f"import {module}"] = type(exc).__name__
    for path in paths:
        try:
            if os.path.isdir(path):
                outcomes[path] = f"listed {len(os.listdir(path))} entries"
            else:
                with open(path) as handle:
                    outcomes[path] = f"read {len(handle.read())} chars"
        except Exception as exc:
            outcomes[path] = type(exc).__name__
    return outcomes
