"""Written answers as tasks: each question is also the task ``question:<id>`` of result.json.

DESIGN.md names written answers among the task ids, so a consumer of ``tasks`` sees every
part of the test. The answer itself (quotes, rubric points, misconceptions) stays in
``answers``; the task carries only the verdict: ``missing`` when no answer was found,
``pass`` when the suggested score reaches `AnswerConfig.task_pass_score`, else ``fail``.
Scoring counts the answer once, from ``answers`` (`grader.scoring.completion` skips these
tasks), and the reports show it with the answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.assignment import Question
from grader.config import AnswerConfig
from grader.result import QUESTION_TASK, TaskResult, WrittenAnswer


def question_tasks(
    answers: Sequence[WrittenAnswer], questions: Sequence[Question], config: AnswerConfig
) -> dict[str, TaskResult]:
    """``question:<id>`` -> the answer's verdict as a task, in the assignment's order."""
    weights = {q.id: q.weight for q in questions}
    tasks = {}
    for answer in answers:
        if not answer.found:
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
            if answer.found
            else "no answer to this question was found"
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
