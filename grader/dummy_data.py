"""Does the candidate's dummy dataset have anything to learn?

"Create a dummy dataset" is half of the positional-encoding question, and a dataset whose
targets are noise independent of the inputs makes any training look like success: the loss
falls to the targets' variance as the model learns their mean, and nothing else can be
learned. So the grader calls the candidate's own data function in the worker, several
times, and measures here whether the targets depend on the inputs AT ALL:

- features of the inputs: the values themselves (randomly projected when there are many)
  and their squares, one-hot codes when they are small integers (token ids), each
  position's mean and energy, and random non-linear (ReLU) features, so that most
  non-linear targets are found too (a product of two separate input values may not be);
- a ridge regression on those features, its strength chosen on part of the training split,
  scored on held-out samples as R^2 against predicting the training mean;
- the same procedure on shuffled targets, whose best R^2 is the noise level: the data has a
  signal when its R^2 beats the noise by a margin.

The same is measured with position-blind features (averages over positions) to say whether
the dataset can show what a positional encoding is for; that part is reported, not judged.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from grader.checks.base import Violation
from grader.checks.binding import bind
from grader.result import CheckResult
from grader.sandbox import CandidateError, WorkerError

SAMPLES = 1024
"""Samples collected: enough for ~700 training rows against a few hundred features."""
PER_CALL = 128
"""Samples asked of each call (through the size parameter, when the function has one)."""
VOCAB = 16
CLASSES = 2
"""Vocabulary size and number of classes passed to a data function that asks for them (token
ids or class labels as dummy data): small, so the one-hot features stay few."""
MAX_CALLS = 12
"""Calls at most, for functions that ignore the size asked for."""
MIN_SAMPLES = 40
"""Fewer distinct samples than this cannot be split into fit, selection and held-out parts."""
HELD_OUT = 0.3
"""Share of the samples held out to score the fit."""
SHUFFLES = 5
"""Shuffled-target fits that measure the noise level of the held-out R^2."""
MARGIN = 0.05
"""The held-out R^2 must beat both 0 and the best shuffled fit by this much. With ~300
held-out samples, shuffled fits land within about +-0.03 of 0 (measured)."""
MAX_RAW = 256
"""Input values beyond this many per sample are randomly projected down to it."""
RANDOM_FEATURES = 256
"""Random ReLU features of the inputs (and as many position-blind ones)."""
MAX_ONE_HOT = 32
"""Inputs taking at most this many distinct integer values are also one-hot coded."""
MAX_TARGETS = 64
"""Target values per sample kept (a sequence-to-sequence target may have many)."""
RIDGE_STRENGTHS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""Ridge penalties tried, per training sample, on standardised features."""


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one intra-op thread inside the block, as it was afterwards. The grader's own
    small computations (matrices of a few hundred rows, a tiny reference model) gain nothing
    from threads, and on a busy two-core machine two threads fighting for the cores ran them
    ten times slower (measured: 32 s instead of 3 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Signal:
    """The measurement: held-out R^2 of the inputs' features, of shuffled targets, and of
    position-blind features."""

    samples: int
    r2: float
    noise_r2: float
    blind_r2: float

    @property
    def needed(self) -> float:
        return max(MARGIN, self.noise_r2 + MARGIN)

    @property
    def has_signal(self) -> bool:
        return self.r2 > self.needed


# --- features ------------------------------------------------------------------------------


def as_grid(x: torch.Tensor) -> torch.Tensor:
    """Inputs as (n, positions, features): (n,) -> (n, 1, 1), (n, L) -> (n, L, 1), and any
    trailing axes after the position axis flattened."""
    x = x.double()
    if x.dim() == 1:
        return x[:, None, None]  # (n, 1, 1)
    return x.reshape(x.size(0), x.size(1), -1)  # (n, L, F)


def random_matrix(rows: int, cols: int, seed: int) -> torch.Tensor:
    """A fixed Gaussian matrix scaled so that projections keep unit variance."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=generator, dtype=torch.float64) / math.sqrt(rows)


def standardise(a: torch.Tensor) -> torch.Tensor:
    """Each column to zero mean and unit variance (constant columns to zero)."""
    std = a.std(dim=0, keepdim=True)
    return (a - a.mean(dim=0, keepdim=True)) / torch.where(std > 0, std, torch.ones_like(std))


def input_features(x: torch.Tensor, seed: int) -> torch.Tensor:
    """(n, k) features that let a linear fit find most dependences of y on x."""
    grid = as_grid(x)  # (n, L, F)
    n = grid.size(0)
    flat = grid.reshape(n, -1)  # (n, L*F)
    if flat.size(1) > MAX_RAW:
        flat = flat @ random_matrix(flat.size(1), MAX_RAW, seed)  # (n, MAX_RAW)
    parts = [
        flat,
        flat.pow(2),
        grid.mean(dim=2),
        grid.pow(2).mean(dim=2),
    ]  # values, squares, per-position mean and energy
    values = torch.unique(grid)
    if values.numel() <= MAX_ONE_HOT and bool((values == values.round()).all()):
        codes = torch.searchsorted(values, grid.reshape(n, -1).contiguous())  # (n, L*F)
        one_hot = torch.nn.functional.one_hot(codes, values.numel()).reshape(n, -1)
        parts.append(one_hot.double()[:, : 4 * MAX_RAW])
    mixed = standardise(flat) @ random_matrix(flat.size(1), RANDOM_FEATURES, seed + 1)
    parts.append(torch.relu(mixed + 0.5))  # (n, RANDOM_FEATURES): non-linear features
    return torch.cat(parts, dim=1)


def blind_features(x: torch.Tensor, seed: int) -> torch.Tensor:
    """(n, k) features that do not change when positions are shuffled: averages over the
    positions of each feature, its square and random ReLU features of each position."""
    grid = as_grid(x)  # (n, L, F)
    scaled = (grid - grid.mean(dim=(0, 1))) / grid.std(dim=(0, 1)).clamp_min(1e-12)  # (n, L, F)
    mixed = torch.relu(
        scaled @ random_matrix(grid.size(2), RANDOM_FEATURES, seed + 2) + 0.5
    )  # (n, L, R)
    return torch.cat([grid.mean(dim=1), grid.pow(2).mean(dim=1), mixed.mean(dim=1)], dim=1)


# --- ridge regression scored on held-out samples ---------------------------------------------


class HeldOutRidge:
    """Ridge regression on fixed features and a fixed split, for several target vectors.

    Rows are split into fit / selection / held-out parts once; the penalty is chosen on the
    selection part, the model refitted on fit + selection and scored on the held-out part.
    One eigendecomposition per part serves every penalty and every target.
    """

    def __init__(self, features: torch.Tensor, seed: int) -> None:
        n = features.size(0)
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(n, generator=generator)
        held_out = int(n * HELD_OUT)
        self.test, self.train = order[:held_out], order[held_out:]
        cut = int(self.train.numel() * 0.75)
        self.fit, self.select = self.train[:cut], self.train[cut:]
        self.features = features
        self._solvers = {"fit": self._solver(self.fit), "train": self._solver(self.train)}

    def _solver(
        self, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean, std, eigenvalues, eigenvectors) of the standardised features of ``rows``."""
        a = self.features[rows]
        mean, std = a.mean(dim=0), a.std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        a = (a - mean) / std  # (rows, k)
        eigenvalues, eigenvectors = torch.linalg.eigh(a.T @ a)  # (k,), (k, k)
        return mean, std, eigenvalues.clamp_min(0), eigenvectors

    def _predict(
        self, part: str, rows: torch.Tensor, y: torch.Tensor, strength: float, at: torch.Tensor
    ) -> torch.Tensor:
        mean, std, eigenvalues, eigenvectors = self._solvers[part]
        a = (self.features[rows] - mean) / std  # (rows, k)
        y_mean = y[rows].mean(dim=0)
        rhs = eigenvectors.T @ (a.T @ (y[rows] - y_mean))  # (k, m)
        weights = eigenvectors @ (rhs / (eigenvalues + strength * rows.numel())[:, None])  # (k, m)
        return ((self.features[at] - mean) / std) @ weights + y_mean  # (at, m)

    def r2(self, y: torch.Tensor) -> float:
        """Held-out R^2 of ``y`` (n, m) against predicting the training mean."""
        errors = [
            float((self._predict("fit", self.fit, y, s, self.select) - y[self.select]).pow(2).sum())
            for s in RIDGE_STRENGTHS
        ]
        strength = RIDGE_STRENGTHS[min(range(len(errors)), key=errors.__getitem__)]
        prediction = self._predict("train", self.train, y, strength, self.test)
        residual = float((prediction - y[self.test]).pow(2).sum())
        spread = float((y[self.test] - y[self.train].mean(dim=0)).pow(2).sum())
        return 1.0 - residual / spread if spread > 0 else 0.0


def measure(x: torch.Tensor, y: torch.Tensor, seed: int) -> Signal:
    """How much of y the inputs x explain on held-out samples, against shuffled targets."""
    targets = y.double().reshape(y.size(0), -1)[:, :MAX_TARGETS]  # (n, m)
    with one_thread():
        ridge = HeldOutRidge(input_features(x, seed), seed)
        generator = torch.Generator().manual_seed(seed + 3)
        noise = max(
            ridge.r2(targets[torch.randperm(y.size(0), generator=generator)])
            for _ in range(SHUFFLES)
        )
        blind = HeldOutRidge(blind_features(x, seed), seed).r2(targets)
        return Signal(samples=y.size(0), r2=ridge.r2(targets), noise_r2=noise, blind_r2=blind)


# --- the check -------------------------------------------------------------------------------


def collect(
    worker: Any, function: str, params: Sequence[Any] | None, sizes: dict[str, Any], seed: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(inputs, targets, calls): distinct samples from repeated calls of the candidate's
    function; raises `Violation` for results that cannot be used."""
    handle = worker.symbol(function)
    worker.run("reseed", seed)
    xs: list[torch.Tensor] = []
    ys: list[torch.Tensor] = []
    seen: set[bytes] = set()
    calls = 0
    while sum(x.size(0) for x in xs) < SAMPLES and calls < MAX_CALLS:
        bound = bind(params, {**sizes, "seed": seed + calls}, ("n_samples", "max_len", "d_model"))
        if isinstance(bound, str):
            raise Violation(f"cannot call your {function}(): {bound}")
        args, kwargs = bound
        x, y = worker.run("positional_dummy_data", handle, kwargs, args, SAMPLES)
        calls += 1
        if x.size(0) != y.size(0):
            raise Violation(
                f"your {function}() returned {x.size(0)} inputs but {y.size(0)} targets"
            )
        if xs and (x.shape[1:] != xs[0].shape[1:] or y.shape[1:] != ys[0].shape[1:]):
            break  # a function whose shapes vary between calls: keep what agrees
        keep = [
            i for i in range(x.size(0)) if _key(x[i], seen)
        ]  # repeated samples would leak into the held-out part
        xs.append(x[keep])
        ys.append(y[keep])
    inputs, targets = torch.cat(xs), torch.cat(ys)
    if not bool(inputs.isfinite().all() and targets.isfinite().all()):
        raise Violation(f"your {function}() returned NaN or infinite values")
    return inputs, targets, calls


def _key(row: torch.Tensor, seen: set[bytes]) -> bool:
    """Whether ``row`` is new (and remember it)."""
    key = row.contiguous().numpy().tobytes()
    if key in seen:
        return False
    seen.add(key)
    return True


def check(
    worker: Any,
    task: str,
    function: str | None,
    params: Sequence[Any] | None,
    sizes: dict[str, Any],
    seed: int,
    looked_for: Sequence[str],
) -> CheckResult:
    """``<task>.dummy_data_signal``: the targets of the candidate's dummy data depend on its inputs."""
    name = f"{task}.dummy_data_signal"
    started = time.perf_counter()

    def result(
        status: str, message: str, counterexample: dict[str, Any] | None = None, calls: int = 0
    ) -> CheckResult:
        return CheckResult(
            name,
            task,
            status,
            message,
            counterexample,
            examples=calls,
            duration_s=round(time.perf_counter() - started, 3),
        )

    if function is None:
        names = ", ".join(f"`{n}`" for n in looked_for[:5])
        return result(
            "fail",
            f"no function creating the dummy dataset was found (looked for {names}, ...): the "
            "question asks for one, and data built at top level cannot be checked or reused",
        )
    try:
        x, y, calls = collect(worker, function, params, sizes, seed)
    except Violation as exc:
        return result("fail", exc.message)
    except CandidateError as exc:
        return result("error", f"calling your {function}() raised {exc.summary()}")
    except WorkerError as exc:  # the call killed the worker: a fresh one for whatever runs next
        worker.restart()
        return result("error", f"calling your {function}() failed: {exc.summary()}")
    if x.size(0) < MIN_SAMPLES:
        return result(
            "skip",
            f"your {function}() gave only {x.size(0)} distinct samples in {calls} calls: too few to "
            "measure whether its targets depend on its inputs",
            calls=calls,
        )
    if float(y.double().std()) == 0.0:
        return result(
            "fail",
            f"every target your {function}() returns is the same value: there is nothing to learn",
            {"samples": x.size(0)},
            calls,
        )
    signal = measure(x, y, seed)
    numbers = {
        "samples": signal.samples,
        "heldout_r2": round(signal.r2, 3),
        "shuffled_r2": round(signal.noise_r2, 3),
        "needed": round(signal.needed, 3),
    }
    where = f"on {signal.samples} samples from {calls} calls of your {function}()"
    if not signal.has_signal:
        return result(
            "fail",
            (
                f"the targets do not depend on the inputs: {where}, a ridge regression on features of X (its values and "
                f"their squares, per-position means and energies, random non-linear features) explains R^2 = {signal.r2:.2f} of the "
                f"held-out targets' variance, no more than on shuffled targets (up to {signal.noise_r2:.2f}; needed above "
                f"{signal.needed:.2f}). y is noise independent of X, so a model trained on it can only learn y's mean: a "
                "falling loss shows it fitting the mean (or memorising noise), not using positions. Make y a function "
                "of X that depends on position, e.g. the value at one fixed position"
            ),
            numbers,
            calls,
        )
    blind = (
        f"; position-blind features explain only {signal.blind_r2:.2f}, so the data shows what positions are for"
        if signal.blind_r2 < signal.r2 - 0.25
        else f"; but position-blind features explain {signal.blind_r2:.2f} as well: the target hardly depends on "
        "positions, so this data cannot show what a positional encoding is for"
    )
    return result(
        "pass",
        f"the targets depend on the inputs: {where}, features of X explain R^2 = {signal.r2:.2f} of "
        f"the held-out targets' variance (shuffled targets: at most {signal.noise_r2:.2f}){blind}",
        calls=calls,
    )
