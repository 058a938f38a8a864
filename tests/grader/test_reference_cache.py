"""The reference side's cache: a value is computed once and read back unchanged; a change of the
grader's code or of a setting makes a new key; what must not be kept is not; a batch's
processes compute a value once between them; and candidate-writable folders are not used."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest

from grader import reference_cache, reference_side
from grader.config import GraderConfig, IntakeLimits
from reference.data import SyntheticSpec, synthetic_corpus


class Counting:
    """A computation that counts its calls."""

    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_a_value_is_computed_once_and_read_back_equal(tmp_path: Path) -> None:
    compute = Counting({"loss": 1.2345678901234567, "curve": [0.1, 0.30000000000000004]})
    first = reference_cache.remember("baseline", {"steps": 150}, compute, root=tmp_path)
    second = reference_cache.remember("baseline", {"steps": 150}, compute, root=tmp_path)
    assert compute.calls == 1
    assert first == second  # floats round-trip exactly through JSON


def test_a_changed_setting_or_code_digest_makes_a_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compute = Counting(1.0)
    reference_cache.remember("baseline", {"steps": 150}, compute, root=tmp_path)
    reference_cache.remember("baseline", {"steps": 600}, compute, root=tmp_path)
    assert compute.calls == 2  # another setting: another value
    monkeypatch.setattr(reference_cache, "code_digest", lambda: "a-changed-grader")
    reference_cache.remember("baseline", {"steps": 150}, compute, root=tmp_path)
    assert compute.calls == 3  # the grader's code changed: the old file is never read again
    monkeypatch.undo()
    reference_cache.remember("baseline", {"steps": 150}, compute, root=tmp_path)
    assert compute.calls == 3


def test_the_code_digest_is_the_batchs(tmp_path: Path) -> None:
    from grader.batch import code_digest

    assert reference_cache.code_digest() == code_digest()
    key = reference_cache.key("x", {"a": 1})
    assert key.startswith("x-") and key != reference_cache.key("x", {"a": 2})


def test_a_value_not_to_keep_is_used_but_not_written(tmp_path: Path) -> None:
    compute = Counting("stopped by the time limit")
    for _ in range(2):
        value = reference_cache.remember("b", 1, compute, keep=lambda v: False, root=tmp_path)
        assert value == "stopped by the time limit"
    assert compute.calls == 2
    assert not list(tmp_path.glob("*.json"))


def test_an_unreadable_file_is_computed_again_and_replaced(tmp_path: Path) -> None:
    compute = Counting([1, 2])
    reference_cache.remember("b", 1, compute, root=tmp_path)
    (path,) = tmp_path.glob("*.json")
    path.write_text('{"half written', encoding="utf-8")
    assert reference_cache.remember("b", 1, compute, root=tmp_path) == [1, 2]
    assert compute.calls == 2
    assert reference_cache.remember("b", 1, compute, root=tmp_path) == [1, 2]
    assert compute.calls == 2


def _compute_once_in_a_process(root: str, log: str) -> None:
    def compute() -> int:
        with open(log, "a", encoding="utf-8") as handle:  # one line per computation
            handle.write(f"{os.getpid()}\n")
        return 42

    assert reference_cache.remember("shared", {"n": 1}, compute, root=Path(root)) == 42


def test_concurrent_processes_compute_a_value_once_between_them(tmp_path: Path) -> None:
    log = tmp_path / "computed.log"
    ctx = mp.get_context("fork")
    processes = [
        ctx.Process(target=_compute_once_in_a_process, args=(str(tmp_path), str(log)))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert len(log.read_text().splitlines()) == 1


def test_the_cache_folder_follows_the_environment_and_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_cache, "out_of_workers_reach", lambda: True)
    monkeypatch.setenv(reference_cache.ENV, str(tmp_path / "cache"))
    root = reference_cache.location()
    assert root == tmp_path / "cache" and root.is_dir()
    assert oct(root.stat().st_mode & 0o777) == oct(0o700)
    monkeypatch.setenv(reference_cache.ENV, "off")
    assert reference_cache.location() is None
    compute = Counting(7)
    reference_cache.remember("b", 1, compute)
    reference_cache.remember("b", 1, compute)
    assert compute.calls == 2  # no cache: computed every time
    monkeypatch.delenv(reference_cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert reference_cache.location() == tmp_path / "xdg" / reference_cache.FOLDER


def test_a_folder_others_may_write_or_workers_could_reach_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv(reference_cache.ENV, str(shared))
    monkeypatch.setattr(reference_cache, "out_of_workers_reach", lambda: True)
    assert reference_cache.location() is None
    shared.chmod(0o700)
    assert reference_cache.location() == shared
    monkeypatch.setattr(reference_cache, "out_of_workers_reach", lambda: False)
    assert reference_cache.location() is None  # a fallback worker with the grader's own uid


SMALL = SyntheticSpec(vocab_size=32, train_tokens=2_000, valid_tokens=500)


def test_a_corpus_reads_back_token_for_token() -> None:
    corpus = synthetic_corpus(SMALL)
    back = reference_side.decode_corpus(reference_side.encode_corpus(corpus))
    assert (back.name, back.splits, back.vocab_size) == (
        corpus.name,
        corpus.splits,
        corpus.vocab_size,
    )
    assert (back.unigram_entropy, back.entropy_rate, back.note) == (
        corpus.unigram_entropy,
        corpus.entropy_rate,
        corpus.note,
    )
    for split in corpus.tokens:
        assert back.tokens[split].dtype == corpus.tokens[split].dtype
        assert back.tokens[split].equal(corpus.tokens[split])
    assert reference_side.corpus_digest(back) == reference_side.corpus_digest(corpus)


def test_the_cached_corpus_is_the_loaded_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ptb_dir: Path
) -> None:
    from reference.data import load_corpus

    monkeypatch.setattr(reference_cache, "out_of_workers_reach", lambda: True)
    monkeypatch.setenv(reference_cache.ENV, str(tmp_path))
    splits = ("valid", "test")
    fresh = load_corpus(ptb_dir, splits)
    for _ in range(2):  # computed and written, then read back
        cached = reference_side.corpus(str(ptb_dir), splits)
        assert reference_side.corpus_digest(cached) == reference_side.corpus_digest(fresh)
        assert (cached.name, cached.unigram_entropy) == (fresh.name, fresh.unigram_entropy)
    assert len(list(tmp_path.glob("corpus-*.json"))) == 1


def test_the_settings_key_holds_every_setting_but_the_intakes() -> None:
    base = reference_side.settings_key(GraderConfig())
    assert "intake" not in base
    assert reference_side.settings_key(GraderConfig(intake=IntakeLimits(main="x.ipynb"))) == base
    for changed in (
        GraderConfig(budget="standard"),
        GraderConfig(seed=1),
        GraderConfig(device="cuda"),
    ):
        assert reference_side.settings_key(changed) != base
