"""The demo's command line: what it prints, and how it refuses bad options."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference.demo import main


def test_demo_trains_on_the_synthetic_corpus_and_reports_against_its_bounds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "corpus: synthetic (vocab 256" in out
    table = [line.split() for line in out.splitlines() if line[:6].strip().isdigit()]
    assert [row[0] for row in table] == ["0", "1", "2", "3"]
    assert table[0][1] == "-" and all(float(row[2]) > 0 for row in table)
    assert "Entropy floor (the chain's entropy rate): 1.079" in out
    assert "Trained the reference model for 3 steps" in out


def test_demo_names_the_splits_a_data_directory_lacks(
    ptb_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(ptb_dir)]) == 2
    assert "no ptb.train.txt; splits present: valid, test" in capsys.readouterr().err


def test_demo_refuses_splits_without_a_data_directory() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--splits", "valid", "test"])
    assert exit_info.value.code == 2
