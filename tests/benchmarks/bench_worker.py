"""What the sandbox costs: worker start-up, small round trips, and moving a big tensor.

Run from the project root:  .venv/bin/python tests/benchmarks/bench_worker.py [--calls 1000]

Prints medians (and the spread) of:
  - start: a fresh worker, from nothing to "ready" (bwrap, setpriv, Python, import torch);
  - small calls: a no-op round trip (ping), and a call with a (2, 3) tensor in and out;
  - a (20, 35, 10000) float32 tensor (the test's logits, 28 MB) sent to the worker and
    fetched back, separately.
A script, not a test: the numbers depend on the machine, so nothing here asserts them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root

from grader.config import SandboxLimits
from grader.sandbox import Sandbox

SOURCE = """
import torch

STORE = {}


def keep(x):
    STORE["x"] = x


def give():
    return STORE["x"]


def small(x):
    return x + 1
"""
LOGITS_SHAPE = (20, 35, 10000)


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def describe(name: str, seconds: list[float], per: str = "", scale: float = 1.0) -> None:
    median = statistics.median(seconds) * scale
    low, high = min(seconds) * scale, max(seconds) * scale
    print(f"  {name:<40} median {median:9.3f} {per:<6} (min {low:.3f}, max {high:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="small round trips to time")
    parser.add_argument("--starts", type=int, default=3, help="worker start-ups to time")
    parser.add_argument("--transfers", type=int, default=5, help="big-tensor moves each way")
    args = parser.parse_args()
    torch.set_num_threads(1)
    limits = SandboxLimits()

    starts = []
    for _ in range(args.starts):
        begin = time.perf_counter()
        with Sandbox(limits, label="bench") as probe:
            starts.append(time.perf_counter() - begin)
            info, cpu = probe.info, probe.ready.get("startup_cpu_s")
    print(
        f"isolation: {info.isolation} (uid {info.uid}, network isolated: {info.network_isolated})"
    )
    for note in info.notes:
        print(f"  note: {note}")
    print("worker start-up, torch import included:")
    describe("start to ready", starts, "s")
    print(f"  {'CPU seconds the worker spent starting':<40} {cpu}")

    with Sandbox(limits, label="bench") as worker:
        worker.load(SOURCE)
        small = torch.ones(2, 3)
        print(f"{args.calls} small calls:")
        describe("ping (no-op round trip)", timed(worker.ping, args.calls), "ms", 1e3)
        describe(
            "call small((2, 3) tensor)",
            timed(lambda: worker.call("small", small), args.calls),
            "ms",
            1e3,
        )

        logits = torch.randn(LOGITS_SHAPE)
        megabytes = logits.numel() * logits.element_size() / 1e6
        print(f"a {LOGITS_SHAPE} float32 tensor ({megabytes:.0f} MB):")
        to_worker = timed(lambda: worker.call("keep", logits), args.transfers)
        from_worker = timed(lambda: worker.call("give"), args.transfers)
        describe("grader -> worker", to_worker, "ms", 1e3)
        describe("worker -> grader", from_worker, "ms", 1e3)
        for name, seconds in (("to", to_worker), ("from", from_worker)):
            print(
                f"  {'throughput ' + name + ' the worker':<40} {megabytes / statistics.median(seconds):9.0f} MB/s"
            )
        assert torch.equal(worker.call("give"), logits), "the tensor must arrive intact"


if __name__ == "__main__":
    main()
