"""Written answers: find each question's answer in a submission and score it against its rubric.

    answers = find_and_score(assignment, submission.cells)  # one WrittenAnswer per question

Text only, nothing here runs candidate code. One step per module, in the order they run:

- `grader.answers.locate`: the prose lines of the cells (Markdown, comments, string
  statements), where each question is asked, and the answer that follows it (or, with no
  question in sight, the prose block that matches the rubric best);
- `grader.answers.text`: the answer without Markdown or LaTeX markup, in sentences;
- `grader.answers.matching`: rubric patterns against sentences, and misconceptions stated
  rather than denied;
- `grader.answers.score`: each rubric point earned or missed with its quotes, misconceptions
  with theirs, and the suggested score, always for a human to confirm;
- the settings are `grader.config.AnswerConfig`.
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.answers.locate import locate, prose_lines
from grader.answers.matching import states
from grader.answers.score import score_answer
from grader.answers.text import plain, sentences
from grader.assignment import Assignment
from grader.config import DEFAULT_ANSWERS, AnswerConfig
from grader.intake.submission import Cell
from grader.result import WrittenAnswer

__all__ = ["find_and_score", "plain", "sentences", "states"]


def find_and_score(
    assignment: Assignment, cells: Sequence[Cell], config: AnswerConfig = DEFAULT_ANSWERS
) -> tuple[WrittenAnswer, ...]:
    """One `WrittenAnswer` per question of ``assignment``, found in the submission's
    ``cells`` (`Submission.cells`: prose and code, in file order) and scored as a suggestion."""
    lines = prose_lines(cells)
    located = locate(assignment.questions, lines, config)
    return tuple(score_answer(q, located[q.id], config) for q in assignment.questions)
