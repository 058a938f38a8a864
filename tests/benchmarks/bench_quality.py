"""Time the static quality analysis, stage by stage, on the seeds and a clean example.

    python tests/benchmarks/bench_quality.py [--rounds 7]

For each program (seed 004's notebook, seed 000's Markdown answer, the clean example of the
quality tests) the table shows the median milliseconds over rounds of each stage and of the
whole `analyse`, after one warm-up run; the first line shows the one-off cost of loading the
English dictionary. Not a test: pytest does not collect this file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: the project and its tests import from here

from grader.quality import QualityConfig, analyse
from grader.quality.duplication import duplicated_blocks
from grader.quality.lint import lint
from grader.quality.metrics import (
    complexity_findings,
    docstring_coverage,
    type_hint_coverage,
)
from grader.quality.optimisation import optimisation_findings
from grader.quality.reusability import reusability_findings
from grader.quality.source import Program
from grader.quality.spelling import spelling_findings
from tests.grader.quality.seeds import SEEDS, markdown_code, notebook_code

MS_PER_S = 1000.0
ROUNDS = 7
"""Rounds per measurement: the median of 7 is robust to one outlier."""


def programs() -> dict[str, str]:
    """The programs timed: the seeds when ../shared/seeds is there, and the clean example."""
    found = {"clean example": (ROOT / "tests/grader/quality/clean_example.py").read_text()}
    notebook = sorted(SEEDS.glob("004_*.ipynb"))
    answer = sorted(SEEDS.glob("000_*.txt"))
    if notebook:
        found["seed 004 notebook"] = notebook_code(notebook[0])
    if answer:
        found["seed 000 markdown"] = markdown_code(answer[0])
    return found


def stages(config: QualityConfig) -> dict[str, Callable[[Program], object]]:
    """Each stage of `analyse`, as a function of the parsed program."""
    return {
        "ruff": lambda p: lint(p, config),
        "metrics": lambda p: (
            complexity_findings(p, config),
            docstring_coverage(p),
            type_hint_coverage(p),
        ),
        "spelling": lambda p: spelling_findings(p, config),
        "optimisation": lambda p: optimisation_findings(p, config),
        "reusability": lambda p: reusability_findings(p, config),
        "duplication": lambda p: duplicated_blocks(p, config),
    }


def median_ms(run: Callable[[Program], object], program: Program, rounds: int) -> float:
    """Median wall time of ``run(program)`` over ``rounds`` calls, in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(program)
        times.append(time.perf_counter() - start)
    return MS_PER_S * statistics.median(times)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = QualityConfig()

    start = time.perf_counter()
    analyse("positional_value = 1\n")  # a word to check loads the English dictionary
    print(f"first analyse (dictionary load): {MS_PER_S * (time.perf_counter() - start):.0f} ms")

    names = [*stages(config), "analyse"]  # the stages, then the whole
    print(f"{'program':<20} {'lines':>6} " + " ".join(f"{n:>12}" for n in names))
    for title, source in programs().items():
        program = Program.parse(source)
        timed = {**stages(config), "analyse": lambda p: analyse(p.source, config=config)}
        timings = [median_ms(run, program, args.rounds) for run in timed.values()]
        row = " ".join(f"{t:>12.1f}" for t in timings)
        print(f"{title:<20} {source.count(chr(10)):>6} {row}")


if __name__ == "__main__":
    main()
