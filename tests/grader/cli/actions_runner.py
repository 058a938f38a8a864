"""Run a GitHub Actions workflow's jobs here, the way a runner would, as far as a test can.

GitHub cannot run in a test, but most of a workflow is its own shell: this runs every
``run:`` step with ``bash -eo pipefail`` in a fresh workspace per job (and per matrix
entry), with the environment a runner builds (workflow, job and step ``env:``, each
``${{ }}`` evaluated against the inputs, variables, secrets, matrix and the outputs of
earlier jobs), ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` files, and ``RUNNER_TEMP``.
The few actions the workflow uses are done by hand: ``actions/checkout`` copies a folder
standing for the interviewer's repository, ``actions/upload-artifact`` and
``actions/download-artifact`` copy into and out of an artifact store (a folder per
artifact, ``pattern`` and ``merge-multiple`` included), ``actions/setup-python`` does
nothing. Steps whose ``id`` is in ``skip`` (installing packages) are not run: the test's
own environment stands in for what they install.

The expressions are the small subset the workflow uses: dotted names, ``'literals'``,
``||``, ``&&``, ``==``, ``always()`` and ``fromJSON()``."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """The value of one expression (the text between ``${{`` and ``}}``)."""
    expression = expression.strip()
    if "||" in expression:
        for part in expression.split("||"):
            value = evaluate(part, context)
            if value:
                return value
        return value
    if "&&" in expression:
        value = True
        for part in expression.split("&&"):
            value = evaluate(part, context)
            if not value:
                return value
        return value
    if "==" in expression:
        left, right = expression.split("==", 1)
        return evaluate(left, context) == evaluate(right, context)
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1]
    if expression == "always()":
        return True
    if expression in ("true", "false"):
        return expression == "true"
    if expression.startswith("fromJSON(") and expression.endswith(")"):
        return json.loads(evaluate(expression[len("fromJSON(") : -1], context))
    value: Any = context
    for part in expression.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def substitute(text: str, context: dict[str, Any]) -> str:
    """A string with every ``${{ }}`` replaced by its value (empty when there is none)."""

    def value(match: re.Match[str]) -> str:
        found = evaluate(match.group(1), context)
        return (
            "" if found is None else str(found).lower() if isinstance(found, bool) else str(found)
        )

    return EXPRESSION.sub(value, text)


def condition(text: Any, context: dict[str, Any]) -> bool:
    if text is None:
        return True
    text = str(text)
    match = EXPRESSION.fullmatch(text.strip())
    return bool(evaluate(match.group(1) if match else text, context))


@dataclass
class StepRun:
    job: str
    name: str
    env: dict[str, str]
    result: subprocess.CompletedProcess | None
    """None for an action done by hand or a skipped step."""


@dataclass
class Runner:
    """Runs the jobs of ``workflow`` one after another, in a folder of its own."""

    workflow: dict[str, Any]
    root: Path
    inputs: dict[str, Any]
    vars: dict[str, str]
    secrets: dict[str, str]
    checkout: Path
    """The folder ``actions/checkout`` copies (the interviewer's repository)."""
    base_env: dict[str, str]
    """The runner's own environment (PATH, HOME, ...): no secret in it, as on GitHub."""
    skip: frozenset[str] = frozenset()
    overrides: dict[str, str] = field(default_factory=dict)
    """Environment set after the workflow's and the job's (e.g. GRADER_VENV: this venv, which
    stands in for the one the skipped install steps would make)."""
    results: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    steps: list[StepRun] = field(default_factory=list)
    """Every step run (or done by hand, or skipped), in order, with its environment."""

    @property
    def store(self) -> Path:
        return self.root / "artifacts"

    def context(self, matrix: dict[str, Any] | None = None) -> dict[str, Any]:
        needs = {
            job: {"result": self.results.get(job), "outputs": self.outputs.get(job, {})}
            for job in self.workflow["jobs"]
        }
        return {
            "inputs": self.inputs,
            "vars": self.vars,
            "secrets": self.secrets,
            "needs": needs,
            "matrix": matrix or {},
        }

    def run_job(self, name: str) -> str:
        """Run one job (every entry of its matrix); returns its result: success, failure
        or skipped. Without an ``if:``, a job runs when every job it needs succeeded."""
        job = self.workflow["jobs"][name]
        context = self.context()
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        if "if" in job:
            runs = condition(job["if"], context)
        else:
            runs = all(self.results.get(need) == "success" for need in needs)
        if not runs:
            self.results[name] = "skipped"
            return "skipped"
        entries: list[dict[str, Any] | None] = [None]
        strategy = job.get("strategy", {})
        if "matrix" in strategy:
            axis, values = next(iter(strategy["matrix"].items()))
            values = evaluate(EXPRESSION.fullmatch(values).group(1), context)
            entries = [{axis: value} for value in values]
        results = [self._run_entry(name, job, entry, i) for i, entry in enumerate(entries)]
        self.results[name] = "success" if all(results) else "failure"
        return self.results[name]

    def _run_entry(self, name: str, job: dict[str, Any], matrix: dict | None, index: int) -> bool:
        folder = self.root / "jobs" / f"{name}-{index}"
        workspace, temp = folder / "workspace", folder / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        context = self.context(matrix)
        context["runner"] = {"temp": str(temp)}
        context["github"] = {"workspace": str(workspace)}
        env = dict(self.base_env)
        env.update(GITHUB_WORKSPACE=str(workspace), RUNNER_TEMP=str(temp), CI="true")
        env.update(GITHUB_STEP_SUMMARY=str(folder / "step_summary.md"))
        for scope in (self.workflow.get("env", {}), job.get("env", {})):
            env.update({k: substitute(str(v), context) for k, v in scope.items()})
        env.update(self.overrides)
        ok = True
        for number, step in enumerate(job["steps"]):
            when = step.get("if")
            if not ok and "always()" not in str(when):
                continue  # after a failure only `if: always()` steps run
            if when is not None and not condition(when, context):
                continue
            extra = {k: substitute(str(v), context) for k, v in step.get("env", {}).items()}
            step_env = {**env, **extra, "GITHUB_OUTPUT": str(folder / f"output-{number}")}
            Path(step_env["GITHUB_OUTPUT"]).touch()
            label = step.get("name", step.get("uses", ""))
            if step.get("id") in self.skip or "uses" in step:
                if "uses" in step and step.get("id") not in self.skip:
                    self._action(step, context, workspace)
                self.steps.append(StepRun(name, label, step_env, None))
                continue
            script = folder / f"step-{number}.sh"
            script.write_text(step["run"])
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=workspace,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            self.steps.append(StepRun(name, label, step_env, done))
            written = Path(step_env["GITHUB_OUTPUT"]).read_text().splitlines()
            if step.get("id"):
                outputs = dict(line.split("=", 1) for line in written if "=" in line)
                context.setdefault("steps", {})[step["id"]] = {"outputs": outputs}
            ok = ok and done.returncode == 0
        if ok:
            declared = job.get("outputs", {})
            self.outputs[name] = {k: substitute(v, context) for k, v in declared.items()}
        return ok

    def _action(self, step: dict[str, Any], context: dict[str, Any], workspace: Path) -> None:
        uses, given = step["uses"].split("@")[0], step.get("with", {})
        options = {k: substitute(str(v), context) for k, v in given.items()}
        if uses == "actions/checkout":
            shutil.copytree(self.checkout, workspace / options.get("path", "."), dirs_exist_ok=True)
        elif uses == "actions/upload-artifact":
            self._upload(options, workspace)
        elif uses == "actions/download-artifact":
            where = Path(options.get("path") or workspace)
            where = where if where.is_absolute() else workspace / where
            if "name" in options:
                shutil.copytree(
                    self.store / options["name"], where, dirs_exist_ok=True, symlinks=True
                )
                return
            merged = options.get("merge-multiple", "").lower() == "true"
            for artifact in sorted(self.store.iterdir()):
                if fnmatch.fnmatch(artifact.name, options["pattern"]):
                    into = where if merged else where / artifact.name
                    shutil.copytree(artifact, into, dirs_exist_ok=True, symlinks=True)
        elif uses != "actions/setup-python":
            raise NotImplementedError(f"the test runner cannot do {uses}")

    def _upload(self, options: dict[str, str], workspace: Path) -> None:
        """One path: a folder's contents (or the file) at the artifact's root; several: each
        under its own name (their common ancestor, the workspace, is the root)."""
        target = self.store / options["name"]
        target.mkdir(parents=True, exist_ok=False)  # an artifact name is used once a run
        paths = [Path(line.strip()) for line in options["path"].splitlines() if line.strip()]
        for path in paths:
            source = path if path.is_absolute() else workspace / path
            into = target if len(paths) == 1 else target / path
            if source.is_dir():
                shutil.copytree(source, into, dirs_exist_ok=True, symlinks=True)
            elif source.is_file():
                into.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, into / source.name)


def base_environment(path_prefix: str = "") -> dict[str, str]:
    """A runner's own environment: the test's, without anything of the grader's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_", "CANDIDATE_"))}
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    return env
