"""The verdict: what an interviewer reads first, and what to ask in the follow-up interview.

Generated from a `SubmissionResult` alone, never written per case, in a fixed order: the
critical flags (`grader.calibration.critical_flags`: reads the future, does not train,
crashes in training, a task missing, not gradable, the smoke budget, suspected tampering),
what works, what does not and why (the single most important failing check of each task,
`grader.calibration.key_failure`), the handout's flaws the candidate kept, then the notable
strengths. The scorecard shows it at the top, ``summary.md`` under its title and the batch
page as each row's tooltip and line.

The follow-up questions (3 to 5) come from the same evidence: each critical flag and failing
task, each kept flaw, the most costly findings and the flagged misconceptions of the written
answers, in that order, topped up with questions about the strongest work when there is
little to ask about. Each carries the anchor of the evidence it rests on in the scorecard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grader.calibration import Flag, critical_flags, first_sentence, key_failure
from grader.report.facts import all_findings
from grader.result import SubmissionResult
from grader.task_counts import task_counts

ASK = "Walk me through that code and show where it goes wrong."
FLAG_ASKS = {
    "reads_future": "Walk me through how the mask is built and reaches every attention call: "
    "which positions can position i see?",
    "does_not_train": "Walk me through one training step: the batch's shapes, the loss, the "
    "gradients and the update.",
    "loop_crash": "Walk me through the shapes that flow from the batches into the model.",
}
"""What to ask about each critical flag of the candidate's own."""
MAX_QUESTIONS = 5
MIN_QUESTIONS = 3
FAST_RATIO = 1.25
"""Timed at most this many times the reference counts as a strength."""
READABLE = 85.0
"""A readability score from which readable code counts as a strength."""
STRONG_ANSWERS = 0.75
"""A mean written-answer score from which the answers count as a strength."""


def _check_anchor(name: str) -> str:
    from grader.report.view import anchor  # the scorecard's ids, in one place

    return "#" + anchor("check", name)


@dataclass(frozen=True)
class Question:
    """A question for the follow-up interview, with the evidence it rests on."""

    text: str
    evidence: str
    """What the question rests on, in a few words (a check name, a finding's rule and line)."""
    href: str
    """Its anchor in the scorecard (``#check-...``, ``#F3``, ``#question-...``, ``#tasks``)."""


@dataclass(frozen=True)
class Failure:
    """A task that does not work, and why."""

    title: str
    reason: str
    href: str


@dataclass(frozen=True)
class Verdict:
    """The verdict of one submission, in parts (the templates lay them out) and as text."""

    flags: tuple[Flag, ...]
    works: tuple[str, ...]
    """Titles of the tasks that pass."""
    fails: tuple[Failure, ...]
    missing: tuple[str, ...]
    kept: tuple[str, ...]
    """The handout's flaws the candidate kept (inherited: named, not counted)."""
    strengths: tuple[str, ...]
    questions: tuple[Question, ...]
    tasks: int
    """Code tasks graded."""

    @property
    def sentences(self) -> tuple[str, ...]:
        """The paragraph as sentences, critical flags first."""
        out = []
        if self.flags:
            said: list[str] = []
            parts = []
            for f in self.flags:
                part = f.label + ("" if f.own else " (inherited from the handout)")
                if f.detail and f.detail not in said:  # two flags may rest on one check
                    said.append(f.detail)
                    part += f": {f.detail}" + (f" ({f.check})" if f.check else "")
                parts.append(part)
            out.append("Critical: " + "; ".join(parts) + ".")
        if self.works and len(self.works) == self.tasks:
            out.append(f"Works: every task ({self.tasks} of {self.tasks}).")
        elif self.works:
            out.append(f"Works: {', '.join(self.works)} ({len(self.works)} of {self.tasks} tasks).")
        if self.fails:
            out.append(
                "Does not work: " + "; ".join(f"{f.title}: {f.reason}" for f in self.fails) + "."
            )
        if self.missing:
            out.append("Not attempted: " + ", ".join(self.missing) + ".")
        if self.kept:
            out.append("Kept the handout's flaws (not counted): " + "; ".join(self.kept) + ".")
        if self.strengths:
            out.append("Strengths: " + "; ".join(self.strengths) + ".")
        return tuple(out)

    @property
    def paragraph(self) -> str:
        return " ".join(self.sentences)

    @property
    def line(self) -> str:
        """One line for the batch page: the flags' labels, else the works/does-not-work count."""
        own = [f.label for f in self.flags if f.own]
        head = ", ".join(own) if own else "no critical flag"
        return f"{head}; {len(self.works)} of {self.tasks} tasks work"


def verdict(result: SubmissionResult) -> Verdict:
    """The verdict of ``result`` (see the module docstring)."""
    flags = critical_flags(result)
    counts = task_counts(result)
    tasks = result.code_tasks
    works = tuple(t.title for tid, t in tasks.items() if counts[tid].status == "pass")
    fails = []
    for tid, task in tasks.items():
        if counts[tid].status not in ("fail", "error"):
            continue
        worst = key_failure(task.checks)
        reason = (
            f"{first_sentence(worst.message)} ({worst.name})"
            if worst
            else first_sentence(task.note or task.status)
        )
        fails.append(Failure(task.title, reason, _check_anchor(worst.name) if worst else "#tasks"))
    missing = tuple(t.title for t in tasks.values() if t.status == "missing")
    kept = tuple(
        trap.title for trap in result.traps if trap.status in ("kept", "worse") and trap.title
    )
    return Verdict(
        flags=flags,
        works=works,
        fails=tuple(fails),
        missing=missing,
        kept=kept,
        strengths=strengths(result),
        questions=questions(result, flags),
        tasks=len(tasks),
    )


def strengths(result: SubmissionResult) -> tuple[str, ...]:
    """What the submission does notably well, from the measured numbers only."""
    if not result.gradable:
        return ()
    out = []
    optimisation = result.criteria.get("optimisation")
    ratio = optimisation.metrics.get("time_ratio") if optimisation else None
    if isinstance(ratio, (int, float)) and ratio <= FAST_RATIO:
        out.append(f"fast: timed at {ratio:.2f}x the reference")
    if optimisation and not optimisation.findings and ratio is not None:
        out.append("no wasteful pattern found in the code")
    reusability = result.criteria.get("reusability")
    if reusability:
        passed = reusability.metrics.get("generality_checks_passed")
        total = reusability.metrics.get("generality_checks")
        if total and passed == total:
            out.append(f"generalises: {passed} of {total} generality checks pass")
    readability = result.criteria.get("readability")
    if readability and readability.score >= READABLE:
        out.append(f"readable code (readability {readability.score:.0f})")
    fixed = [t.title for t in result.traps if t.status == "fixed"]
    if fixed:
        out.append(f"fixed {len(fixed)} of the handout's {len(result.traps)} flaws")
    found = [a for a in result.answers if a.found]
    if found and sum(a.score for a in found) / len(result.answers) >= STRONG_ANSWERS:
        out.append("strong written answers")
    return tuple(out)


def questions(result: SubmissionResult, flags: tuple[Flag, ...] = ()) -> tuple[Question, ...]:
    """3 to 5 follow-up questions from the evidence (see the module docstring)."""
    out: list[Question] = []
    seen: set[str] = set()

    def add(text: str, evidence: str, href: str) -> None:
        if evidence not in seen and len(out) < MAX_QUESTIONS:
            seen.add(evidence)
            out.append(Question(text, evidence, href))

    if not result.gradable:
        add(
            f"The grader could not judge the submission ({first_sentence(result.reason)}). "
            "Can you run it for me and show where each task is implemented?",
            "not gradable",
            "#tasks",
        )
    for flag in flags:
        if flag.check and flag.own:
            add(
                f"{_upper(flag.detail)} ({flag.check}). {FLAG_ASKS.get(flag.id, ASK)}",
                flag.check,
                _check_anchor(flag.check),
            )
    for task in result.code_tasks.values():
        worst = key_failure(task.checks)
        if worst is not None:
            symbol = f"`{task.symbol}`" if task.symbol else f"your {task.title.lower()}"
            add(
                f"In {symbol}: {_lower(first_sentence(worst.message))}. Walk me through what "
                "it computes, step by step, and how you would have caught this.",
                worst.name,
                _check_anchor(worst.name),
            )
        elif task.status == "error":
            add(
                f"{task.title} could not be run: {_lower(first_sentence(task.note or 'no check ran'))}. "
                "Can you run it for me and show what it does?",
                f"{task.id} error",
                "#" + _task_anchor(task.id),
            )
        elif task.status == "missing":
            add(
                f"{task.title} was not attempted. How would you implement it, and how would "
                "you test it?",
                f"{task.id} missing",
                "#tasks",
            )
    for trap in result.traps:
        if trap.status in ("kept", "worse"):
            add(
                f"The handout had a flaw you kept: {_lower(trap.title)}. Did you notice it? "
                "What does it do to the model, and how would you fix it?",
                f"handout flaw {trap.id}",
                _check_anchor(trap.checks[0]) if trap.checks else "#tasks",
            )
    major = [(n, f) for n, f in enumerate(all_findings(result), start=1) if f.severity == "major"]
    rules: set[str] = set()
    for number, finding in major:
        if finding.rule in rules:
            continue  # one question per kind of finding
        rules.add(finding.rule)
        where = finding.where or (f"line {finding.line}" if finding.line else "your code")
        add(
            f"At {where}: {_lower(first_sentence(finding.message))}. Why did you write it this "
            "way, and what would you change?",
            f"{finding.rule} ({where})",
            f"#F{number}",
        )
    for answer in result.answers:
        for wrong in answer.misconceptions:
            add(
                f"Your answer to '{first_sentence(answer.prompt, 120)}' says something the "
                f"rubric flags: {_lower(str(wrong.get('message', wrong.get('id', ''))))}. "
                "Can you explain your reasoning?",
                f"question:{answer.question}",
                "#" + _answer_anchor(answer.question),
            )
    if len(out) < MIN_QUESTIONS:
        for task in result.code_tasks.values():
            if task.status == "pass":
                symbol = f"`{task.symbol}`" if task.symbol else task.title.lower()
                add(
                    f"{task.title} passes every check. How did you convince yourself that "
                    f"{symbol} is correct, and what would change for sequences ten times longer?",
                    f"{task.id} passes",
                    "#" + _task_anchor(task.id),
                )
            if len(out) >= MIN_QUESTIONS:
                break
    for task in result.code_tasks.values():  # little to go on: ask how they would test it
        if len(out) >= MIN_QUESTIONS:
            break
        add(
            f"How would you test {task.title.lower()} yourself before handing it in?",
            f"{task.id} testing",
            "#" + _task_anchor(task.id),
        )
    return tuple(out)


def _lower(text: str) -> str:
    """A sentence continued after a colon: its first word lower-cased when it is an ordinary
    word ("Your", "The"), never when it is a name (``MultiHeadSelfAttention``, ``PE``)."""
    text = text.strip().rstrip(".")
    word = text.split(" ", 1)[0] if text else ""
    if word.isalpha() and (len(word) == 1 or word[1:].islower()):
        return text[0].lower() + text[1:]
    return text


def _upper(text: str) -> str:
    """A sentence's first letter capitalised (names start lower-case only when they are
    code, which keeps its case)."""
    text = text.strip().rstrip(".")
    word = text.split(" ", 1)[0] if text else ""
    return text[0].upper() + text[1:] if word.isalpha() and word.islower() else text


def _answer_anchor(question: str) -> str:
    from grader.report.view import anchor

    return anchor("question", question)


def _task_anchor(task_id: str) -> str:
    from grader.report.view import anchor

    return anchor("task", task_id)


def verdict_lines(result: SubmissionResult, escape: Callable[[str], str]) -> list[str]:
    """The verdict and the questions as Markdown lines (``summary.md``), every string through
    ``escape`` (`grader.report.markdown.md`)."""
    seen = verdict(result)
    out = [f"**Verdict.** {escape(seen.paragraph)}", ""]
    if result.overall_note:
        out += [f"*{escape(result.overall_note)}*", ""]
    if seen.questions:
        out += ["**Questions for the follow-up interview:**", ""]
        out += [
            f"{n}. {escape(q.text)} (evidence: {escape(q.evidence)})"
            for n, q in enumerate(seen.questions, start=1)
        ]
        out.append("")
    return out


def verdict_row(result: SubmissionResult) -> dict[str, object]:
    """What a ``summary.json`` row carries of the verdict: the paragraph (the batch page's
    tooltip), the one-line summary, the critical flags (its badges) and the questions."""
    seen = verdict(result)
    return {
        "verdict": seen.paragraph,
        "verdict_line": seen.line,
        "flags": [
            {"id": f.id, "label": f.label, "own": f.own, "detail": f.detail} for f in seen.flags
        ],
        "questions": [q.text for q in seen.questions],
        "overall_note": result.overall_note,
    }
