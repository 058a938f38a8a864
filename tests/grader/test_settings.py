"""`grader.settings`: what a run records, how two runs differ, how a result shows them."""

from __future__ import annotations

from dataclasses import replace

from report.fixtures import graded_result

from grader import settings
from grader.assignment import get
from grader.config import GraderConfig, IntakeLimits


def test_a_run_records_its_settings_in_words() -> None:
    config = GraderConfig(budget="smoke", seed=3, data_dir="/data/ptb", splits=("valid", "test"))
    recorded = settings.of_run(get("transformer_lm"), config, {"attention": "attn"})
    assert recorded == {
        "assignment": "transformer_lm",
        "budget": "smoke",
        "corpus": "ptb-dir:/data/ptb",
        "splits": "valid→test",
        "seed": 3,
        "device": "cpu",
        "map": {"attention": "attn"},
        "main": None,
    }
    synthetic = settings.of_run(get("transformer_lm"), GraderConfig(), {})
    assert (synthetic["corpus"], synthetic["splits"]) == ("synthetic", "train→valid")
    positional = settings.of_run(get("positional_encoding"), GraderConfig(), {})
    assert positional["corpus"] == "positional_training"
    assert (
        settings.of_run(
            get("transformer_lm"), GraderConfig(intake=IntakeLimits(main="*.ipynb")), {}
        )["main"]
        == "*.ipynb"
    )


def test_differences_name_each_setting() -> None:
    ours = settings.of_run(get("transformer_lm"), GraderConfig(budget="quick"), {})
    theirs = {**ours, "budget": "smoke", "seed": 1}
    assert settings.differences(ours, theirs) == ["budget: quick vs smoke", "seed: 0 vs 1"]
    assert settings.differences(ours, {"budget": "quick"}) == []  # unknown keys do not differ
    assert settings.spread([ours, theirs, ours]) == {
        "budget": ["quick", "smoke"],
        "seed": ["0", "1"],
    }


def test_a_result_shows_its_settings_or_what_its_environment_knew() -> None:
    result = graded_result()
    rebuilt = settings.of_result(result)
    assert rebuilt["assignment"] == result.assignment
    assert rebuilt["budget"] == result.environment["budget"]
    recorded = replace(result, environment={**result.environment, "settings": {"budget": "smoke"}})
    assert settings.of_result(recorded) == {"budget": "smoke"}
    assert settings.is_smoke(settings.of_result(recorded))
    line = settings.describe({"budget": "quick", "corpus": "synthetic", "splits": "train→valid"})
    assert line == "budget quick · corpus synthetic · splits train→valid"
