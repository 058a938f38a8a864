"""Time the reference against PyTorch's built-ins, interleaved in one run, and print a table.

    python tests/benchmarks/bench_reference.py [--rounds 7] [--threads 1]

1. Attention forward + backward, float32, at the handout's shape (batch 20, 2 heads, seq 35,
   head dim 100) and at seq 512: the reference `attention` against
   ``F.scaled_dot_product_attention`` given the same mask, and against its ``is_causal=True``
   path (which may use a fused kernel).
2. One training step (forward, backward, clipping, SGD) of the handout's language model
   (emsize 200, d_hid 200, 2 layers, 2 heads, dropout 0.1, vocab 10,000, batch 20 x 35):
   `TransformerLM` against the same model built from ``nn.TransformerEncoder``.

Each round times every contender once (``torch.utils.benchmark``, blocked autorange), so
drifts in machine load hit them alike; the table shows the median over rounds and the
inter-quartile range. On one thread the clock is the process's CPU time, which other
processes sharing the cores do not inflate; with more threads it is wall time. Not a test:
pytest does not collect this file.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils import benchmark

from reference.attention import attention
from reference.masks import causal_mask
from reference.model import TransformerLM
from reference.torch_twins import TorchTransformerLM
from reference.train import train_step

BATCH, HEADS, HEAD_DIM = 20, 2, 100
ATTENTION_LENGTHS = (35, 512)
LM_SIZES = {
    "ntoken": 10_000,
    "d_model": 200,
    "nhead": 2,
    "d_hid": 200,
    "nlayers": 2,
    "dropout": 0.1,
}
LM_BATCH, BPTT = 20, 35
LR, CLIP = 5.0, 0.5
MIN_ROUND_S = 0.2
"""Each contender runs for at least this long per round, so timer resolution is moot."""


def interleaved(
    contenders: dict[str, Callable[[], object]], rounds: int, clock: Callable[[], float]
) -> dict[str, list[float]]:
    """Milliseconds per call of each contender, one measurement per round, interleaved."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, function in contenders.items():
            timer = benchmark.Timer("function()", globals={"function": function}, timer=clock)
            times[name].append(1000 * timer.blocked_autorange(min_run_time=MIN_ROUND_S).median)
    return times


def median_iqr(samples: list[float]) -> tuple[float, float]:
    quartiles = statistics.quantiles(samples, n=4)
    return statistics.median(samples), quartiles[2] - quartiles[0]


def attention_contenders(seq: int) -> dict[str, Callable[[], object]]:
    """Forward + backward of each attention implementation on the same causal inputs."""
    query, key, value = (
        torch.randn(BATCH, HEADS, seq, HEAD_DIM, requires_grad=True) for _ in range(3)
    )
    mask = causal_mask(seq)
    upstream = torch.randn(BATCH, HEADS, seq, HEAD_DIM)

    def forward_backward(run: Callable[[], torch.Tensor]) -> Callable[[], object]:
        return lambda: torch.autograd.grad(run(), (query, key, value), upstream)

    return {
        "reference": forward_backward(lambda: attention(query, key, value, mask)),
        "sdpa, same mask": forward_backward(
            lambda: F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
        ),
        "sdpa, is_causal": forward_backward(
            lambda: F.scaled_dot_product_attention(query, key, value, is_causal=True)
        ),
    }


def lm_contenders() -> dict[str, Callable[[], object]]:
    """One training step of each language model on the same window."""
    data = torch.randint(LM_SIZES["ntoken"], (LM_BATCH, BPTT))
    targets = torch.randint(LM_SIZES["ntoken"], (LM_BATCH, BPTT))
    mask = causal_mask(BPTT)
    contenders = {}
    for name, model_class in (
        ("reference", TransformerLM),
        ("nn.TransformerEncoder", TorchTransformerLM),
    ):
        torch.manual_seed(0)
        model = model_class(**LM_SIZES).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        contenders[name] = lambda model=model, optimizer=optimizer: train_step(
            model, optimizer, data, targets, mask, CLIP
        )
    return contenders


def report(title: str, times: dict[str, list[float]]) -> None:
    """Print each contender's median and IQR, and its ratio to the reference."""
    reference_ms, _ = median_iqr(times["reference"])
    print(f"\n{title}")
    print(f"  {'contender':<24}{'median ms':>10}{'IQR ms':>9}{'ref / this':>12}")
    for name, samples in times.items():
        median, iqr = median_iqr(samples)
        print(f"  {name:<24}{median:>10.2f}{iqr:>9.2f}{reference_ms / median:>11.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median taken)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clock, clock_name = (
        (time.process_time, "CPU time") if args.threads == 1 else (time.perf_counter, "wall time")
    )
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {args.rounds} rounds, "
        f"{clock_name}, float32, CPU"
    )
    for seq in ATTENTION_LENGTHS:
        title = f"attention forward+backward ({BATCH}, {HEADS}, {seq}, {HEAD_DIM}), causal"
        report(title, interleaved(attention_contenders(seq), args.rounds, clock))
    title = f"LM training step, vocab {LM_SIZES['ntoken']:,}, batch {LM_BATCH} x {BPTT}"
    report(title, interleaved(lm_contenders(), args.rounds, clock))
    print("\n'ref / this' above 1 means the reference is slower than that contender.")


if __name__ == "__main__":
    main()
