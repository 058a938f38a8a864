"""What `grader.timing.measure` reports, and what it costs: the reference against itself
and against seed 004 (../shared/seeds/004_*.txt), with the spreads and measure()'s wall time
(plus, once, the start of the reference worker, which a lone submission's measure() pays and
a batch shares).

Run from the project root:  .venv/bin/python tests/benchmarks/bench_timing.py [--seed-only]

The reference against itself should come out near 1.0x on every item: how far it strays is
the noise the timing bands must absorb. A script, not a test: the numbers depend on the
machine and on its load (printed), so nothing here asserts them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the project root

from grader import assignment
from grader.checks import mask_source
from grader.config import GraderConfig
from grader.intake import extract, load_submission, resolve
from grader.sandbox import Sandbox, WorkerError
from grader.timing import TimingReport, causal_keep_mask, cpu_clock, measure, start_reference
from grader.trusted import reference_modules

SEEDS = ROOT / ".." / "shared" / "seeds"
ASSIGNMENT = assignment.get("transformer_lm")
REFERENCE_SYMBOLS = {
    "attention": "reference.attention:attention",
    "multi_head_attention": "reference.attention:MultiHeadSelfAttention",
    "training": "TransformerLM",
}


def show(title: str, report: TimingReport, seconds: float, cpu_seconds: float) -> None:
    print(
        f"{title}\n  measure() took {seconds:.1f} s wall and {cpu_seconds:.1f} CPU s (grader and both "
        f"workers: about the wall time on an idle machine); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  clock: {report.clock}")
    for t in report.timings:
        print(
            f"  {t.name:<48} candidate {t.candidate_ms:9.2f} ms (IQR {t.candidate_iqr_ms:6.2f})"
            f"   reference {t.reference_ms:9.2f} ms (IQR {t.reference_iqr_ms:6.2f})   {t.ratio:5.2f}x"
        )
    for line in report.evidence[1:] if report.timings else report.evidence:
        print(f"  {line}")


def timed_measure(
    title: str,
    worker: Sandbox,
    reference: Sandbox,
    symbols: dict[str, str | None],
    config: GraderConfig,
    mask: torch.Tensor | None,
) -> None:
    """measure() with its wall time and the CPU time of the grader and both workers."""
    clocks = [cpu_clock(worker), cpu_clock(reference), time.process_time]
    cpu, wall = [clock() for clock in clocks], time.perf_counter()
    report = measure(worker, ASSIGNMENT, symbols, config, mask=mask, reference=reference)
    wall = time.perf_counter() - wall
    show(
        title,
        report,
        wall,
        sum(clock() - before for clock, before in zip(clocks, cpu, strict=True)),
    )


def start_timed_reference(config: GraderConfig) -> Sandbox:
    """start_reference(), which a lone submission's measure() pays on top, with its time."""
    start = time.perf_counter()
    reference = start_reference(config)
    print(f"starting the reference worker: {time.perf_counter() - start:.1f} s wall")
    return reference


def reference_against_itself(config: GraderConfig, reference: Sandbox) -> None:
    with Sandbox(config.sandbox, label="bench-candidate") as worker:
        worker.load_modules(reference_modules(), main="reference.model")
        timed_measure(
            "reference vs reference",
            worker,
            reference,
            REFERENCE_SYMBOLS,
            config,
            causal_keep_mask(35),
        )


def seed_004(config: GraderConfig, reference: Sandbox) -> None:
    """Seed 004 as the pipeline would time it: its symbols resolved, its own mask convention."""
    paths = sorted(SEEDS.glob("004_*.txt"))
    if not paths:
        print(f"seed 004 not found in {SEEDS.resolve()}: skipped")
        return
    extracted = extract(load_submission(paths[0]), ASSIGNMENT.handout_source())
    resolutions = resolve(extracted, ASSIGNMENT)
    symbols = {
        task: (r.symbol if r.found and r.resolved_by != "inline" else None)
        for task, r in resolutions.items()
    }
    parts = resolutions["training"].parts
    symbols["training"] = parts.get("model") or symbols.get("training")
    with Sandbox(config.sandbox, label="bench-seed-004") as worker:
        load = worker.load(extracted.source)
        if not load.ok:
            print(f"seed 004 did not load: {load.error}")
        try:
            source = mask_source.find(worker, symbols.get("causal_mask"), symbols.get("attention"))
            mask = source.mask(worker, 35, torch.float32) if source.style is not None else None
        except WorkerError as exc:
            print(f"seed 004's mask could not be found ({exc.summary()}): timed without one")
            mask = None
        timed_measure(
            f"seed 004 ({paths[0].name}) vs reference", worker, reference, symbols, config, mask
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seed-only", action="store_true", help="skip the reference against itself"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = GraderConfig()
    print(
        f"repeats {config.timing.repeats}, rounds of at least {config.timing.min_round_s * 1000:.0f} ms, {os.cpu_count()} CPUs"
    )
    reference = start_timed_reference(config)
    try:
        if not args.seed_only:
            reference_against_itself(config, reference)
        seed_004(config, reference)
    finally:
        reference.close()


if __name__ == "__main__":
    main()
