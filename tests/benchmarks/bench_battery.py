"""Time the property battery on one submission at each check budget, and print a table.

    python tests/benchmarks/bench_battery.py [--budgets quick standard thorough] [--only base]

Submissions: the catalogue's base.py (a correct, complete answer) and seed 004 (a real
notebook, read from ../shared/seeds when it is there). Each is graded through the real
stages (tests/catalogue/battery.py): intake, a sandboxed worker, then the property battery:
finding the candidate's mask (seed 004 builds it inline, so its own train() is run to watch
it) and every task's suite. The battery's time runs from the loaded worker to the end of
the suites; worker start-up is not in it, and no training run follows. Per task, the columns
show the wall seconds of its checks; the slowest checks are listed last.

A script, not a test: the numbers depend on the machine and its load, so nothing here
asserts them. The target is a quick battery under 20 s on the two-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and the catalogue package

from catalogue import base_entry
from catalogue.battery import Graded, grade_file, grade_source

from grader.config import GraderConfig

SEEDS = ROOT / ".." / "shared" / "seeds"
BUDGETS = ("quick", "standard", "thorough")
TASKS = ("attention", "multi_head_attention", "encoder_block", "causal_mask", "training")
TARGET_QUICK_S = 20.0


def grade(name: str, budget: str, folder: Path) -> Graded | None:
    """One grading of submission ``name`` at ``budget``; None when its file is absent."""
    config = GraderConfig(budget=budget)
    if name == "base":
        entry = base_entry()
        return grade_source(entry.source, f"base-{budget}", folder, config, train=False)
    seeds = sorted(SEEDS.glob("004_*.txt"))
    return grade_file(seeds[0], config, train=False, name=f"seed004-{budget}") if seeds else None


def per_task(graded: Graded) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    for check in graded.checks.values():
        seconds[check.task] += check.duration_s
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", nargs="+", default=list(BUDGETS), choices=BUDGETS)
    parser.add_argument(
        "--only", choices=("base", "seed004"), help="one submission instead of both"
    )
    parser.add_argument("--slowest", type=int, default=5, help="slowest checks listed per grading")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = [args.only] if args.only else ["base", "seed004"]
    print(f"torch {torch.__version__}, 1 thread in the grader, wall seconds")
    header = f"{'submission':<10} {'budget':<9} {'battery s':>9} {'examples':>9} " + " ".join(
        f"{t[:10]:>10}" for t in TASKS
    )
    rows, slowest = [header, "-" * len(header)], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            for budget in args.budgets:
                graded = grade(name, budget, Path(tmp))
                if graded is None:
                    rows.append(f"{name:<10} {budget:<9} (seed 004 not found in {SEEDS.resolve()})")
                    break
                if graded.load_error:
                    rows.append(f"{name:<10} {budget:<9} did not load: {graded.load_error}")
                    continue
                tasks = per_task(graded)
                rows.append(
                    f"{name:<10} {budget:<9} {graded.battery_s:>9.1f} {graded.examples:>9} "
                    + " ".join(f"{tasks.get(t, 0.0):>10.1f}" for t in TASKS)
                )
                top = sorted(graded.checks.values(), key=lambda c: -c.duration_s)[: args.slowest]
                slowest.append(
                    f"{name} {budget}: "
                    + ", ".join(f"{c.name} {c.duration_s:.2f} s ({c.examples})" for c in top)
                )
                if budget == "quick":
                    verdict = "under" if graded.battery_s < TARGET_QUICK_S else "OVER"
                    slowest.append(
                        f"  quick battery {graded.battery_s:.1f} s: {verdict} the {TARGET_QUICK_S:.0f} s target "
                        f"(whole grading {graded.total_s:.1f} s with intake and worker start-up)"
                    )
    print("\n".join(rows))
    print("\nslowest checks (seconds, examples):")
    print("\n".join(slowest))


if __name__ == "__main__":
    main()
