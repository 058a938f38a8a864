"""Written answers: found in every format, scored against the rubric, flagged, rendered.

The real seeds are read from ../shared/seeds (skipped when absent); every other answer here
was written for these tests, in several styles, to keep the rubric patterns honest: a strong
answer in other words must earn its points, an off-topic one must not, and a sentence that
denies a misconception must not be flagged with it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from catalogue.test_submissions import SUBMISSIONS, SUBMISSIONS_DIR
from report.fixtures import graded_result
from report.page import Page

from grader import assignment
from grader.answers import (
    find_and_score,
    plain,
    sentences,
    states,
)
from grader.assignment import Question, RubricPoint
from grader.config import AnswerConfig
from grader.intake import load_submission, parse_text
from grader.report import render_scorecard
from grader.result import SubmissionResult, WrittenAnswer

SEEDS = Path(__file__).resolve().parents[2] / ".." / "shared" / "seeds"
SEED_004 = "004_734e6d95a3c1a91f"
SEED_000 = "000_19777d6a8ad388c9.txt"

COST = (
    "**Describe the attention complexity in memory and computation costs. "
    "Do you know methods to try to reduce this cost?**"
)
MASK = (
    "**Why use a causal mask in attention? Are there any other interesting masks or patterns that "
    "can be used for training or for generation?**"
)


@pytest.fixture(scope="module")
def lm() -> assignment.Assignment:
    return assignment.get("transformer_lm")


def seed_path(name: str) -> Path:
    path = SEEDS / name
    if not path.is_file():
        pytest.skip(f"seed {name} not found in {SEEDS.resolve()}")
    return path


def by_id(answers: tuple[WrittenAnswer, ...]) -> dict[str, WrittenAnswer]:
    return {a.question: a for a in answers}


def earned(answer: WrittenAnswer) -> set[str]:
    return {p["point"] for p in answer.points if p["earned"]}


def flagged(answer: WrittenAnswer) -> set[str]:
    return {m["id"] for m in answer.misconceptions}


def grade_markdown(
    lm: assignment.Assignment, text: str, suffix: str = ".md"
) -> dict[str, WrittenAnswer]:
    return by_id(find_and_score(lm, parse_text(text, suffix=suffix).cells))


# --- the real seeds ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_004(lm: assignment.Assignment) -> dict[str, dict[str, WrittenAnswer]]:
    """Seed 004 as a notebook and as its text export."""
    return {
        suffix: by_id(find_and_score(lm, load_submission(seed_path(SEED_004 + suffix)).cells))
        for suffix in (".ipynb", ".txt")
    }


@pytest.mark.parametrize("suffix", [".ipynb", ".txt"])
def test_seed_004_attention_cost_is_found_scored_and_lora_flagged(seed_004, suffix: str) -> None:
    cost = seed_004[suffix]["attention_cost"]
    assert cost.found and "memory cost" in cost.answer and "padding" not in cost.answer.lower()
    assert earned(cost) == {"quadratic_time", "quadratic_memory", "sparse_local", "low_rank_kernel"}
    lora = next(m for m in cost.misconceptions if m["id"] == "lora_for_attention_cost")
    assert "LoRA" in lora["quote"] and "does not reduce the quadratic cost" in lora["message"]
    memory = next(m for m in cost.misconceptions if m["id"] == "score_memory_n2d")
    # The quote is the sentence as a reader sees it: `$O(N^2 \dot D)$` cleaned of LaTeX.
    assert memory["quote"].startswith("The memory cost is") and "O(N^2 · D)" in memory["quote"]
    assert cost.score == pytest.approx(4 / 5 - 2 * AnswerConfig().misconception_penalty)


@pytest.mark.parametrize("suffix", [".ipynb", ".txt"])
def test_seed_004_causal_mask_answer_is_found_and_scored(seed_004, suffix: str) -> None:
    mask = seed_004[suffix]["causal_mask_why"]
    assert mask.found and mask.answer.lstrip().startswith("* At the training")
    # "batched generation" in the answer is not the train/generate consistency point.
    assert earned(mask) == {"no_future", "padding"}
    assert not mask.misconceptions and mask.score == pytest.approx(0.5)


def test_seed_004_reads_the_same_in_both_formats(seed_004) -> None:
    notebook, export = seed_004[".ipynb"], seed_004[".txt"]
    for question in notebook:
        assert notebook[question].points == export[question].points
        assert notebook[question].misconceptions == export[question].misconceptions


def test_seed_000_essay_earns_cost_length_and_normalisation_points() -> None:
    """Built here, so it runs whatever the positional-encoding assignment's rubric says."""
    essay = Question(
        id="essay",
        prompt="What problems arise when a deep model stacks self-attention layers on top of "
        "a positional encoding?",
        match=("stacking self-attention layers",),
        rubric=(
            RubricPoint(
                "quadratic", "Quadratic cost in the length.", (r"\bn\s*\^\s*2", "quadratic")
            ),
            RubricPoint(
                "longer",
                "A static encoding does not scale to longer sequences.",
                (r"static[^.]*|longer sequences",),
            ),
            RubricPoint(
                "norm", "Normalisation and residual connections.", ("normali[sz]ation", "residual")
            ),
            RubricPoint("rotary", "Rotary or relative encodings.", ("rotary", "relative position")),
        ),
    )
    exam = replace(assignment.get("transformer_lm"), questions=(essay,))
    (answer,) = find_and_score(exam, load_submission(seed_path(SEED_000)).cells)
    assert answer.found and answer.answer.lstrip().startswith("* First of all")
    # The answer stops at the next section's heading.
    assert "learnable positional encoding method" not in answer.answer
    assert earned(answer) == {"quadratic", "longer", "norm"}
    quadratic = next(p for p in answer.points if p["point"] == "quadratic")
    assert any("O(n^2d)" in quote for quote in quadratic["quotes"])  # from $\mathcal{O}(n^2d)$
    assert answer.score == pytest.approx(3 / 4)


def test_seed_000_against_the_positional_encoding_assignment() -> None:
    pe = assignment.available().get("positional_encoding")
    if pe is None or not any(q.id == "deep_stack_issues" for q in pe.questions):
        pytest.skip("the positional_encoding assignment has no deep_stack_issues question yet")
    answers = by_id(find_and_score(pe, load_submission(seed_path(SEED_000)).cells))
    essay = answers["deep_stack_issues"]
    assert essay.found
    assert {"quadratic_cost", "length_extrapolation", "norm_residual"} <= earned(essay)
    assert 0.5 < essay.score < 1.0


# --- the project's example submissions --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_example_submissions_earn_exactly_what_their_readme_expects(lm, name: str) -> None:
    spec = SUBMISSIONS[name]
    answers = by_id(find_and_score(lm, load_submission(SUBMISSIONS_DIR / spec["file"]).cells))
    for question, points in spec["answers"].items():
        assert answers[question].found
        assert earned(answers[question]) == set(points), question
    assert set().union(*(flagged(a) for a in answers.values())) == set(spec["misconceptions"])


# --- answers written for these tests ------------------------------------------------------------


STRONG = f"""# Part 2

{COST}

Self-attention scales as $O(L^2 \\cdot d)$ in time, because every query is dotted with every key.
The $L \\times L$ attention weights also have to be held in memory for backprop, so memory is
$O(L^2)$ per head.

To cut this down:
- restrict attention to a local window or a sparse pattern (Longformer, BigBird);
- approximate it with a low-rank projection as in Linformer, or kernelised linear
  attention (Performer);
- FlashAttention tiles the computation in SRAM and never materialises the full matrix.

Note that LoRA does not help here: it only reduces the trainable parameters during fine-tuning.

{MASK}

Without it, each position could peek at the token it is supposed to predict, so the model would
learn to copy rather than to model language. Masking the upper triangle means the whole sequence
is trained in one forward pass while matching how decoding works, one token at a time.
Other patterns: key padding masks for variable-length batches, a prefix-LM mask where the prompt
is attended bidirectionally, and block-diagonal masks for packed documents.
"""


def test_a_strong_answer_in_other_words_earns_every_point(lm) -> None:
    answers = grade_markdown(lm, STRONG)
    assert earned(answers["attention_cost"]) == {
        "quadratic_time",
        "quadratic_memory",
        "sparse_local",
        "low_rank_kernel",
        "io_aware",
    }
    assert earned(answers["causal_mask_why"]) == {
        "no_future",
        "train_generate_consistency",
        "padding",
        "other_patterns",
    }
    # "LoRA does not help here" denies the misconception: nothing is flagged.
    assert all(a.score == 1.0 and not a.misconceptions for a in answers.values())
    sparse = next(p for p in answers["attention_cost"].points if p["point"] == "sparse_local")
    assert sparse["quote"].startswith("To cut this down: restrict")  # the bullet keeps its lead-in


def test_headings_answer_markers_and_no_bold(lm) -> None:
    answers = grade_markdown(
        lm,
        """# My answers

## Q1: attention complexity

Answer: for n tokens of dimension d the QK^T product costs n*n*d multiply-adds,
so compute is quadratic.
Memory also grows quadratically (n^2 scores per head). Sliding-window attention helps.

## Q2: why use a causal mask?

## Answer

Because the model is trained autoregressively: token i must not attend to the tokens after it.

## Q3: something else

Padding the batches made my training faster.
""",
    )
    assert earned(answers["attention_cost"]) == {
        "quadratic_time",
        "quadratic_memory",
        "sparse_local",
    }
    # "## Answer" does not end the answer; "## Q3" does (its padding is not a point here).
    assert earned(answers["causal_mask_why"]) == {"no_future"}


def test_an_off_topic_answer_scores_zero(lm) -> None:
    answers = grade_markdown(
        lm,
        f"""{COST}

I really enjoyed this test. The training loop was straightforward and the data loaded quickly.

{MASK}

I did not have time for this one, sorry, but masks matter a lot in a notebook like this one.
""",
    )
    for answer in answers.values():
        assert answer.found and answer.score == 0.0 and not earned(answer)


def test_a_mask_answer_with_block_and_window_words_does_not_earn_other_patterns(lm) -> None:
    """The rubric's bare 'block', 'window' and 'span' used to match any causal-mask answer."""
    answers = grade_markdown(
        lm,
        f"""{MASK}

The causal mask is a lower-triangular matrix that blocks attention to later positions in the
window, over the whole span of the sequence.
""",
    )
    assert earned(answers["causal_mask_why"]) == {"no_future"}


@pytest.mark.parametrize(
    "sentence",
    [
        "Note that LoRA does not reduce the cost of attention: it trains fewer parameters.",
        "Unlike LoRA, which is a fine-tuning trick, Linformer projects the keys to a low rank.",
        "LoRA isn't a way to make attention cheaper.",
        "LoRA, a fine-tuning method, has nothing to do with the attention cost.",
        "Low-rank attention should not be confused with LoRA.",
    ],
)
def test_a_denied_lora_is_not_flagged(lm, sentence: str) -> None:
    answers = grade_markdown(lm, f"{COST}\n\nAttention costs O(n^2 d). {sentence}\n")
    assert "lora_for_attention_cost" not in flagged(answers["attention_cost"])


@pytest.mark.parametrize(
    "sentence",
    [
        "To reduce it you can use LoRA, it makes attention much cheaper.",
        "Sparse attention is not exact, and LoRA also reduces the cost.",
        "Methods: low-rank adaptation of the weights.",
    ],
)
def test_a_lora_claim_is_flagged_with_its_sentence(lm, sentence: str) -> None:
    answers = grade_markdown(lm, f"{COST}\n\nAttention costs O(n^2 d). {sentence}\n")
    (lora,) = answers["attention_cost"].misconceptions
    assert lora["id"] == "lora_for_attention_cost" and lora["quote"] == sentence


def test_memory_n2d_flagged_only_when_memory_is_claimed_n2d(lm) -> None:
    wrong = grade_markdown(
        lm, f"{COST}\n\nTime is $O(n^2 d)$ and memory is also $O(n^{{2}} \\cdot d)$.\n"
    )
    right = grade_markdown(
        lm, f"{COST}\n\nMemory is O(n^2) per head while the compute is O(n^2 d).\n"
    )
    assert flagged(wrong["attention_cost"]) == {"score_memory_n2d"}
    assert not flagged(right["attention_cost"])
    assert earned(right["attention_cost"]) == {"quadratic_time", "quadratic_memory"}


def test_missing_and_short_answers(lm) -> None:
    answers = grade_markdown(lm, f"# My notebook\n\n{COST}\n\nO(n^2).\n\n```python\nx = 1\n```\n")
    short, missing = answers["attention_cost"], answers["causal_mask_why"]
    assert short.found and short.score == 0.0 and not earned(short)
    assert not missing.found and missing.score == 0.0 and missing.answer == ""
    if hasattr(missing, "note"):  # the proposed WrittenAnswer.note
        assert "fewer than" in short.note and "No answer found" in missing.note


def test_a_question_asked_but_not_answered_is_not_found(lm) -> None:
    answers = grade_markdown(
        lm, f"{COST}\n\n{MASK}\n\nThe model must not see the future tokens it predicts.\n"
    )
    assert not answers["attention_cost"].found
    assert answers["causal_mask_why"].found and earned(answers["causal_mask_why"]) == {"no_future"}


def test_answers_in_a_python_file_comments_and_string(lm) -> None:
    answers = grade_markdown(
        lm,
        '''import torch


def attention(q, k, v):
    # the scores are (batch, heads, n, n): quadratic memory in n
    return torch.softmax(q @ k.transpose(-2, -1), -1) @ v


# Describe the attention complexity in memory and computation costs. Do you know methods to try
# to reduce this cost?
# -> O(n^2 d) compute and O(n^2) memory. FlashAttention and sparse attention reduce it.

"""
Why use a causal mask in attention?
Answer: so that a position cannot attend to the future positions; padding masks are another kind.
"""
''',
        suffix=".py",
    )
    cost, mask = answers["attention_cost"], answers["causal_mask_why"]
    assert "to reduce this cost" not in cost.answer  # the wrapped prompt is not answer
    assert earned(cost) == {"quadratic_time", "quadratic_memory", "sparse_local", "io_aware"}
    assert earned(mask) == {"no_future", "padding"}


def test_without_any_question_the_best_matching_block_is_used(lm) -> None:
    answers = grade_markdown(
        lm,
        """# Notes

Attention compares all pairs, O(n^2 d) time, and the n x n matrix is stored in memory.
Sparse attention or FlashAttention reduce it.

```python
x = 1
```

Some remarks about my training run: the loss went down.
""",
    )
    cost = answers["attention_cost"]
    assert cost.found and "remarks" not in cost.answer
    assert earned(cost) == {"quadratic_time", "quadratic_memory", "sparse_local", "io_aware"}
    assert not answers["causal_mask_why"].found  # one point by chance is not an answer


def test_penalty_is_configurable_and_the_score_clipped(lm) -> None:
    lora = "To reduce it you can use LoRA, it makes the attention much cheaper."
    text = f"{COST}\n\nAttention is O(n^2). {lora}\n"
    cells = parse_text(text, suffix=".md").cells
    default = by_id(find_and_score(lm, cells))["attention_cost"]
    harsh = by_id(find_and_score(lm, cells, AnswerConfig(misconception_penalty=0.5)))[
        "attention_cost"
    ]
    assert default.score == pytest.approx(1 / 5 - AnswerConfig().misconception_penalty)
    assert harsh.score == 0.0


def test_only_the_start_of_a_huge_answer_is_scored(lm) -> None:
    filler = "The weather was fine and the tea was hot. " * 600  # ~25,000 characters
    text = f"{COST}\n\nAttention is O(n^2 d). {filler}FlashAttention tiles it.\n"
    (cost, _) = find_and_score(
        lm, parse_text(text, suffix=".md").cells, AnswerConfig(max_answer_chars=5_000)
    )
    assert "FlashAttention tiles it." in cost.answer  # shown whole...
    assert earned(cost) == {"quadratic_time"}  # ...scored up to the limit


# --- text handling -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (r"a $\mathcal{O}(n^2d)$ cost", "a O(n^2d) cost"),
        (r"$O(N^{2} \cdot D)$ and $n \times n$", "O(N^2 · D) and n × n"),
        (
            "**quadratic** in *n*, n² or n**2, `key_padding_mask`",
            "quadratic in n, n^2 or n^2, key_padding_mask",
        ),
        (
            "n * n scores, see [the paper](https://x.org) [[1]](https://d2l.ai)",
            "n * n scores, see the paper",
        ),
    ],
)
def test_markup_is_removed_before_matching(raw: str, clean: str) -> None:
    assert plain(raw) == clean


def test_sentences_respect_bullets_abbreviations_and_lead_ins() -> None:
    found = sentences(
        [
            "Attention is O(n^2). It is slow, e.g. for long inputs, cf. Vaswani et al. 2017.",
            "Ways to reduce it:",
            "* sparse attention",
            "  (Longformer)",
            "- FlashAttention.",
            "",
            "Done.",
        ]
    )
    assert found == [
        "Attention is O(n^2).",
        "It is slow, e.g. for long inputs, cf. Vaswani et al. 2017.",
        "Ways to reduce it:",
        "Ways to reduce it: sparse attention (Longformer)",
        "Ways to reduce it: FlashAttention.",
        "Done.",
    ]


def test_negation_is_read_per_clause() -> None:
    lora = (r"\blora\b",)
    assert not states("LoRA, which is for fine-tuning, does not reduce it.", lora)
    assert states("Sparse attention does not help; LoRA does.", lora)
    assert states("It is not exact, but LoRA reduces the cost.", lora)


def test_every_answer_pattern_of_every_assignment_compiles() -> None:
    for exam in assignment.available().values():
        for question in exam.questions:
            patterns = [
                *question.match,
                *(p for r in question.rubric for p in r.patterns),
                *(p for m in question.misconceptions for p in m.patterns),
            ]
            for pattern in patterns:
                re.compile(pattern, re.IGNORECASE)


# --- the scorecard ------------------------------------------------------------------------------


def test_scorecard_shows_each_answer_with_points_quotes_and_flags(lm) -> None:
    text = STRONG.replace("Note that LoRA does not help here", "LoRA also helps here")
    answers = find_and_score(lm, parse_text(text, suffix=".md").cells)
    unanswered = WrittenAnswer(
        "essay", "An essay question nobody answered?", found=False, score=0.0
    )
    result = replace(graded_result(), answers=(*answers, unanswered))
    page = Page(render_scorecard(SubmissionResult.from_dict(result.to_dict())))  # as result.json
    assert {
        "answers",
        "question-attention_cost",
        "question-causal_mask_why",
        "question-essay",
    } <= set(page.ids)
    assert "Describe the attention complexity in memory" in page.text
    assert (
        page.text.count("suggested — confirm") == 2
        and "Suggested score 90 % — a human should confirm." in page.text
    )
    assert (
        "“Self-attention scales as O(L^2 · d) in time, because every query is dotted with every key.”"
        in page.text
    )
    assert "Memory for the n-by-n score matrix grows as O(n^2) per head" in page.text  # its text
    assert "Misconception flagged (lora_for_attention_cost)" in page.text
    assert "The answer says: “LoRA also helps here: it only reduces" in page.text
    answers = page.tags["details"] - len(page.with_class("details", "method"))  # not the cards'
    assert answers == 2 and "no answer found" in page.text
    assert "No answer to this question was found in the submission." in page.text
