"""Written answers as tasks: each question is also the task ``question:<id>`` of result.json.

DESIGN.md names written answers among the task ids, so a consumer of ``tasks`` sees every
part of the test. The answer itself (quotes, rubric points, misconceptions) stays in
``answers``; the task carries only the verdict: ``missing`` when no answer was found or the
answer is still the handout's placeholder ("_Write your answer here._"), ``pass`` when the
suggested score reaches `AnswerConfig.task_pass_score`, else ``fail``.
Scoring counts the answer once, from ``answers`` (`grader.scoring.completion` skips these
tasks), and the reports show it with the answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.assignment import Assignment
from grader.config import AnswerConfig
from grader.intake.load import parse_text
from grader.result import QUESTION_TASK, TaskResult, WrittenAnswer


def question_tasks(
    answers: Sequence[WrittenAnswer], assignment: Assignment, config: AnswerConfig
) -> dict[str, TaskResult]:
    """``question:<id>`` -> the answer's verdict as a task, in the assignment's order."""
    weights = {q.id: q.weight for q in assignment.questions}
    placeholders = handout_answers(assignment, config)
    tasks = {}
    for answer in answers:
        untouched = " ".join(answer.answer.split()) == placeholders.get(answer.question)
        if not answer.found or untouched:
            status = "missing"
        else:
            status = "pass" if answer.score >= config.task_pass_score else "fail"
        flagged = (
            f"; {len(answer.misconceptions)} misconception(s) flagged"
            if answer.misconceptions
            else ""
        )
        note = (
            f"written answer, suggested score {answer.score:.0%} (pass from "
            f"{config.task_pass_score:.0%}; a human should confirm){flagged}"
            if answer.found and not untouched
            else "no answer to this question was found"
            + (" (only the handout's placeholder)" if untouched else "")
        )
        tasks[f"{QUESTION_TASK}{answer.question}"] = TaskResult(
            id=f"{QUESTION_TASK}{answer.question}",
            title=answer.prompt,
            status=status,
            score=round(answer.score, 4),
            symbol=None,
            resolved_by=None,
            weight=weights.get(answer.question, 1.0),
            note=note,
        )
    return tasks


def handout_answers(assignment: Assignment, config: AnswerConfig) -> dict[str, str]:
    """Question id -> what the answer reader finds in the handout itself (its placeholder),
    whitespace-normalised. (Reading the handout's prose costs a few milliseconds.)"""
    from grader.answers import find_and_score

    handout = assignment.handout_source()
    if not handout.strip() or not assignment.questions:
        return {}
    cells = parse_text(handout, name="handout", suffix=".py").cells
    found = find_and_score(assignment, cells, config)
    return {a.question: " ".join(a.answer.split()) for a in found if a.found}
