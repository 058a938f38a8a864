"""Grade many submissions: in parallel, resumable, one bad submission never stops the batch.

Each submission is graded in a process of its own, forked from a clean process that has
only imported the grader (a ``forkserver``, see `grading_context`), which starts its own
sandboxed worker. Whatever happens while grading one submission (the grader
crashing on it, running out of memory, hanging) ends that process only; the batch records
it as that submission's error and goes on. A process per submission rather than a pool:
a pool whose process dies breaks every job still queued on it.

* **Resume.** Reports are written atomically. ``result.json`` is always written (resume and
  ``grader report`` read it); a rerun keeps a result whose content hash (a file's, a
  folder's or an archive's, see `grader.intake.units.unit_digest`), assignment and settings
  (the fingerprint) match, re-rendering only the report files that are missing. A result
  recording that the grader itself died has no fingerprint, so a rerun retries it.
* **Settings.** Every result records the settings it was graded under (budget, corpus,
  splits, seed, device, --map, --main: `grader.settings`), and so does ``summary.json``. A
  rerun into a folder holding results of other settings is refused (`SettingsChanged`,
  naming what differs) unless ``force``: a smoke run must never silently replace grades.
* **Not gradable.** A candidate refused before grading (a link out of the batch folder) or
  whose grading process died gets a ``not_gradable`` result saying why (`grader.gradable`);
  it is listed apart, never ranked.
* **Lock.** An exclusive ``flock`` on ``<out>/.grader.lock`` for the whole run: a second run
  on the same folder is refused at once with the first one's pid, never interleaved.
* **Interruption.** Ctrl-C (or SIGTERM, see ``grader.cli``) reaches this process only: the
  children ignore SIGINT and are terminated here, their sandboxes die with them, and
  finished results stay on disk. A child also exits if this process disappears.
* **Progress.** On a terminal, a table redrawn in place; otherwise one line per submission
  started, resumed or finished, on stderr. Every text from a result passes
  `grader.text.one_line` first, and each grading process writes through
  `grader.text.CleanStream`: a candidate's exception message never writes its terminal
  escapes (window title, clear screen, hyperlinks, colours) to the interviewer's terminal.
* **Names.** Each submission's folder name is unique in the batch (compared without case,
  for case-insensitive file systems) and never one of the batch's own outputs
  (`BATCH_OUTPUTS`): a file named ``summary.json.py`` gets ``summary.json-2/``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing as mp
import os
import signal
import stat
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TextIO

from grader import settings as run_settings
from grader.assignment import Assignment
from grader.bounded import bounded
from grader.config import GraderConfig
from grader.gradable import not_gradable
from grader.intake.units import unit_digest, unit_name
from grader.report.batch import INDEX_FILE, SUMMARY_FILE
from grader.result import SubmissionResult
from grader.task_counts import tasks_line
from grader.text import CleanStream, one_line, raw_stream

LOCK_FILE = ".grader.lock"
BATCH_OUTPUTS = (SUMMARY_FILE, INDEX_FILE, LOCK_FILE)
"""Everything a batch writes at the top of its output folder, which no submission's folder
may be named: a new top-level output must be added here."""
ALL_FORMATS = ("html", "json", "junit", "markdown")
CHILD_MARGIN_S = 120.0
"""Time a grading process gets beyond its sandbox's own limits (imports, reports), after
which it is killed and the submission recorded as an error."""


class OutputLocked(Exception):
    """Another grading run is writing into the same output folder."""


class OutputExposed(Exception):
    """Without bubblewrap, a worker could read other candidates' results in the output folder."""


class SettingsChanged(Exception):
    """The output folder holds results graded with other settings (and ``force`` is off)."""


@dataclass(frozen=True)
class Job:
    """One submission to grade and where its reports go."""

    path: Path
    name: str
    """Output folder name, unique within the batch."""
    folder: Path
    refused: str = ""
    """Why it is not graded at all (it never reaches a grading process); empty normally."""


@dataclass(frozen=True)
class Settings:
    """What every job of a batch shares (sent to each child process)."""

    assignment_folder: str
    config: GraderConfig
    overrides: dict[str, str]
    formats: tuple[str, ...]
    fingerprint: str
    recorded: dict[str, Any]
    """The settings every result of the batch records (`grader.settings.of_run`)."""
    hidden: tuple[str, ...] = ()
    """Folders no worker may read (the output folder), for the fallback's audit hook."""


# --- the output folder: lock, fingerprint, resume -----------------------------------------------


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock for the duration, or raise `OutputLocked` naming the holder."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise OutputLocked(
                f"another grading run (pid {holder}) is writing into {out}; "
                "wait for it to finish or choose another --out"
            ) from None
        handle.truncate(0)  # append mode: the pid lands at the start of the emptied file
        handle.write(str(os.getpid()))
        handle.flush()
        yield  # closing the file releases the lock, also when the process dies


@contextmanager
def guard_output(out: Path, names: list[str]) -> Iterator[None]:
    """Keep the output folder, where other candidates' results are, out of every worker's
    reach for the duration of the run.

    Under bubblewrap a worker sees nothing of the host. Without it (the rlimits-only
    fallback) the audit hook refuses reads of the folder, but native code can get past a
    hook; so, when the worker runs as a uid of its own, the folder is also made private to
    the grader (mode 0700) while grading and given its mode back afterwards. A fallback
    worker that shares the grader's uid could read it whatever we do: then a folder that
    would hold more than one submission's results is refused (`OutputExposed`)."""
    from grader.sandbox.isolation import bwrap_problem, fallback_has_own_uid

    problem = bwrap_problem()
    if problem is None:
        yield
        return
    if not fallback_has_own_uid():
        present = {p.parent.name for p in out.glob("*/result.json")}
        if len(present | set(names)) > 1:
            raise OutputExposed(
                f"candidate code would run without bubblewrap ({problem}) as this user, so it "
                f"could read the other results in {out}: grade one submission per --out "
                "folder, install bubblewrap, or run the grader as root"
            )
        yield
        return
    mode = stat.S_IMODE(out.stat().st_mode)
    out.chmod(0o700)
    try:
        yield
    finally:
        out.chmod(mode)


def fingerprint(assignment: Assignment, config: GraderConfig, overrides: dict[str, str]) -> str:
    """What must match for an existing result to be reused: the grader's code (its version
    and a digest of its sources, so a changed check never serves a stale verdict), the
    assignment as written (tasks, aliases, handout), every setting and every --map."""
    from grader import __version__

    written = [
        (assignment.folder / "assignment.toml").read_text(encoding="utf-8"),
        assignment.handout_source(),
    ]
    settings = {
        "grader": __version__,
        "code": code_digest(),
        "assignment": assignment.id,
        "written": written,
        "config": asdict(config),
        "overrides": overrides,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


PROJECT_DIR = Path(__file__).resolve().parents[1]
"""The project folder: grader/, reference/ and templates/."""


def code_digest(root: Path = PROJECT_DIR) -> str:
    """A digest of the grader's and the reference's Python sources and the report templates
    under ``root`` (the project)."""
    digest = hashlib.sha256()
    for folder, pattern in (("grader", "*.py"), ("reference", "*.py"), ("templates", "*.j2")):
        for path in sorted((root / folder).rglob(pattern)):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def unique_names(paths: list[Path]) -> list[str]:
    """One output folder name per path (``typical``, ``typical-2``, ...), stable across runs:
    a file's stem, a folder's name, an archive's name without its suffix; never a batch
    output's name, never another submission's, whatever the case."""
    names: list[str] = []
    taken = {name.casefold() for name in BATCH_OUTPUTS}
    for path in paths:
        name, n = unit_name(path), 2
        while name.casefold() in taken:
            name, n = f"{unit_name(path)}-{n}", n + 1
        names.append(name)
        taken.add(name.casefold())
    return names


def reusable(job: Job, expected: str, config: GraderConfig) -> SubmissionResult | None:
    """The result already in ``job.folder`` if it grades this very submission (file, folder
    or archive) with these settings."""
    try:
        result = _existing(job)
        if result is None or result.environment.get("fingerprint") != expected:
            return None
        if result.submission.sha256 == unit_digest(job.path, config.intake):
            return result
    except OSError:  # the submission changed or vanished while we looked: grade it again
        return None
    return None


def _existing(job: Job) -> SubmissionResult | None:
    from grader.report import ReportError, load_result

    try:
        return load_result(job.folder / "result.json")
    except ReportError:  # absent, half-written by an older grader, another schema
        return None


def check_settings(out: Path, batch: list[Job], recorded: dict[str, Any]) -> None:
    """Raise `SettingsChanged` when ``out`` holds a batch summary or a result of one of
    ``batch``'s submissions graded with settings other than ``recorded``."""
    from grader.report import ReportError, load_result

    seen: dict[str, list[str]] = {}
    summary = out / "summary.json"
    if summary.is_file():
        try:
            previous = json.loads(summary.read_text(encoding="utf-8")).get("settings")
        except (OSError, ValueError, AttributeError):
            previous = None
        if isinstance(previous, dict):
            seen["summary.json"] = run_settings.differences(recorded, previous)
    for job in batch:
        try:
            result = load_result(job.folder / "result.json")
        except ReportError:
            continue
        seen[job.name] = run_settings.differences(recorded, run_settings.of_result(result))
    differing = {where: diff for where, diff in seen.items() if diff}
    if differing:
        what = sorted({d for diff in differing.values() for d in diff})
        where = ", ".join(sorted(differing)[:5]) + (" ..." if len(differing) > 5 else "")
        raise SettingsChanged(
            f"{out} holds results graded with other settings ({'; '.join(what)}; this run "
            f"first, the folder's second; in {where}): rerun with --force to regrade them with "
            "this run's settings, or choose another --out"
        )


def complete_reports(result: SubmissionResult, folder: Path, formats: tuple[str, ...]) -> None:
    """Render the requested reports that are missing (an interrupted write, a new --format)."""
    from grader.report import FORMATS, write_reports

    missing = [f for f in formats if f in FORMATS and not (folder / FORMATS[f][0]).exists()]
    if missing:
        write_reports(result, folder, formats=missing)


# --- one submission, in its own process ---------------------------------------------------------

PRELOAD = ("grader.pipeline", "grader.report", "grader.assignment")
"""What the fork server imports once for every grading process: torch, Hypothesis and the
grader itself (measured: ~4.7 s of CPU a process on this machine, paid once a batch)."""


def grading_context() -> Any:
    """The multiprocessing context of grading processes: a fork server that has imported the
    grader (`PRELOAD`) and nothing else, so each process starts without importing torch again
    and without inheriting any thread or state of the batch process (the server never
    grades). The server lives as long as this process; what a child must see of the batch as
    it is now (its environment, its folder) is handed to it (`Launch`)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


@dataclass(frozen=True)
class Launch:
    """The batch process's state a grading process takes on: the fork server was started
    earlier, possibly with another environment or folder (an earlier batch in a test run)."""

    launched: float
    """``time.time()`` when the process was started, for the ``process start`` stage."""
    environ: dict[str, str]
    cwd: str

    @classmethod
    def now(cls) -> Launch:
        return cls(time.time(), dict(os.environ), os.getcwd())

    def apply(self) -> None:
        os.environ.clear()
        os.environ.update(self.environ)
        os.chdir(self.cwd)


def _grade_in_child(job: Job, settings: Settings, events: Connection, launch: Launch) -> None:
    """Grade one submission and write its reports; progress goes up ``events``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us
    launch.apply()
    sys.stdout, sys.stderr = CleanStream(sys.stdout), CleanStream(sys.stderr)  # a traceback too
    _exit_with_parent(os.getppid())
    from grader.assignment import load
    from grader.pipeline import grade_submission
    from grader.report import write_reports
    from grader.stages import Stages

    stages = Stages()
    stages.add("process start", time.time() - launch.launched)

    def progress(stage: str) -> None:
        events.send(stage)

    assignment = load(Path(settings.assignment_folder))
    try:
        result = grade_submission(
            job.path,
            assignment,
            settings.config,
            overrides=settings.overrides,
            progress=progress,
            name=job.name,
            hidden_paths=tuple(Path(p) for p in settings.hidden),
            stages=stages,
        )
    except Exception as exc:  # noqa: BLE001 - a grader bug on one submission must not stop the batch
        why = f"the grader failed on this submission ({type(exc).__name__}: {exc})"
        result = _not_graded(job, assignment, settings, why[:500])
        result = replace(result, errors=(*result.errors, traceback.format_exc(limit=5)))
    result = replace(
        result,
        environment={
            **result.environment,
            "fingerprint": settings.fingerprint,
            "settings": settings.recorded,
        },
    )
    progress("writing reports")
    with stages.span("writing reports"):  # the other formats first: result.json records it
        formats = [f for f in settings.formats if f != "json"]
        write_reports(result, job.folder, formats=formats, limits=settings.config.reports)
    environment = {**result.environment, **stages.as_dict()}
    write_reports(
        replace(result, environment=environment),
        job.folder,
        formats=("json",),
        limits=settings.config.reports,
    )
    events.close()


def _exit_with_parent(parent: int) -> None:
    """Exit when the batch process is gone, so that an orphan never writes into an output
    folder that a later run has locked (the sandbox worker dies with us)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _not_graded(job: Job, assignment: Assignment, settings: Settings, why: str) -> SubmissionResult:
    """A not-gradable result for ``job`` that never got (or lost) its grading process."""
    from grader.pipeline import environment

    digest = ""
    if not job.refused:  # a refused link is not followed, not even to hash what it points at
        try:
            digest = unit_digest(job.path, settings.config.intake)
        except OSError:
            digest = ""
    env = {**environment(settings.config, None, {}, 0.0), "settings": settings.recorded}
    return not_gradable(job.path, job.name, assignment, why, env, digest)


def _child_died(job: Job, assignment: Assignment, settings: Settings, why: str) -> SubmissionResult:
    """A not-gradable result for a submission whose grading process died; written without a
    fingerprint, so that a rerun tries it again."""
    from grader.report import write_reports

    result = bounded(_not_graded(job, assignment, settings, why))
    try:
        write_reports(result, job.folder, formats=settings.formats)
    except Exception:  # noqa: BLE001 - a renderer bug: keep at least the result itself
        write_reports(result, job.folder, formats=("json",))
    return result


# --- the batch ----------------------------------------------------------------------------------


def grade_batch(
    paths: list[Path],
    assignment: Assignment,
    config: GraderConfig,
    out: Path,
    *,
    overrides: dict[str, str] | None = None,
    jobs: int = 1,
    formats: tuple[str, ...] = ALL_FORMATS,
    resume: bool = True,
    show_score: bool = True,
    stream: TextIO | None = None,
    refused: dict[Path, str] | None = None,
    force: bool = False,
) -> list[SubmissionResult]:
    """Grade ``paths`` (files, folders, archives) into ``out/<name>/`` and write
    ``out/summary.json`` and ``out/index.html``.

    ``refused`` maps paths not to grade at all to the reason (they get a not-gradable
    result). Returns the results in the order of ``paths``. Raises `OutputLocked` when
    another run holds ``out``, `SettingsChanged` when ``out`` holds results of other
    settings and ``force`` is off, and ``KeyboardInterrupt`` after cleaning up when
    interrupted."""
    from grader.report import write_batch, write_reports

    overrides, refused = overrides or {}, refused or {}
    formats = tuple(dict.fromkeys(("json", *formats)))  # result.json always: resume reads it
    recorded = run_settings.of_run(assignment, config, overrides)
    settings = Settings(
        str(assignment.folder),
        config,
        overrides,
        formats,
        fingerprint(assignment, config, overrides),
        recorded,
        hidden=(str(out.resolve()),),
    )
    batch = [
        Job(p, n, out / n, refused.get(p, ""))
        for p, n in zip(paths, unique_names(paths), strict=True)
    ]
    with output_lock(out), guard_output(out, [job.name for job in batch if not job.refused]):
        if not force:
            check_settings(out, batch, recorded)
        display = Progress([job.name for job in batch], show_score, stream or sys.stderr)
        results: dict[str, SubmissionResult] = {}
        todo = []
        for job in batch:
            if job.refused:
                result = _not_graded(job, assignment, settings, job.refused)
                write_reports(result, job.folder, formats=formats)
                results[job.name] = result
                display.done += 1
                display.update(job.name, f"not gradable: {job.refused}")
                display.line(f"{job.name}: {display.verdict(result)}")
                continue
            done = reusable(job, settings.fingerprint, config) if resume else None
            if done is None:
                todo.append(job)
                continue
            complete_reports(done, job.folder, formats)
            results[job.name] = done
            display.resumed(job.name, done)
        results |= _run_jobs(todo, assignment, settings, max(1, jobs), display)
        ordered = [results[job.name] for job in batch]
        _, index = write_batch(
            [(results[job.name], job.folder) for job in batch], out, settings=recorded
        )
        display.finish(ordered, out, index)
    return ordered


@dataclass
class _Running:
    """A grading process in flight."""

    job: Job
    process: Any  # multiprocessing's SpawnProcess
    pipe: Connection
    """Our end of its progress pipe; EOF when the process has finished or died."""
    started: float
    killed: str = ""
    """Why we ended it, if we did."""


def _run_jobs(
    todo: list[Job], assignment: Assignment, settings: Settings, jobs: int, display: Progress
) -> dict[str, SubmissionResult]:
    """Run at most ``jobs`` grading processes at a time until every job has a result."""
    ctx = grading_context()
    limits = settings.config.sandbox
    limit_s = (
        max(limits.submission_timeout_s, settings.config.training_budget.timeout_s)
        + limits.startup_timeout_s
        + CHILD_MARGIN_S
    )
    queued = list(todo)
    running: dict[Connection, _Running] = {}
    results: dict[str, SubmissionResult] = {}
    try:
        while queued or running:
            while queued and len(running) < jobs:
                job = queued.pop(0)
                receive, send = ctx.Pipe(duplex=False)
                process = ctx.Process(
                    target=_grade_in_child,
                    args=(job, settings, send, Launch.now()),
                    name=f"grade-{job.name}",
                )
                process.start()
                send.close()  # the child holds the only writer: EOF on our end means it is done
                running[receive] = _Running(job, process, receive, time.monotonic())
                display.started(job.name)
            for pipe in wait(list(running), timeout=1.0):
                run = running[pipe]
                try:
                    display.update(run.job.name, pipe.recv())
                except EOFError:  # finished or died
                    del running[pipe]
                    results[run.job.name] = _collect(run, assignment, settings)
                    display.finished(
                        run.job.name, results[run.job.name], time.monotonic() - run.started
                    )
            for run in running.values():
                if (
                    not run.killed and time.monotonic() - run.started > limit_s
                ):  # past its own limits
                    run.killed = f"the grading process was killed after {limit_s:.0f} s"
                    run.process.kill()
    finally:  # normally empty; after an interruption, every process still grading
        for run in running.values():
            run.process.terminate()
        for run in running.values():
            run.process.join(timeout=10)
            if run.process.is_alive():
                run.process.kill()
    return results


def _collect(run: _Running, assignment: Assignment, settings: Settings) -> SubmissionResult:
    """The result a finished process wrote, or an error result saying how it died."""
    from grader.report import ReportError, load_result

    run.process.join()
    run.pipe.close()
    if run.process.exitcode == 0:
        try:
            return load_result(run.job.folder / "result.json")
        except ReportError:
            pass
    why = run.killed or f"the grading process died (exit status {run.process.exitcode})"
    return _child_died(run.job, assignment, settings, why)


# --- progress -----------------------------------------------------------------------------------


class Progress:
    """Per-submission progress: a table redrawn in place on a terminal, else one line per
    submission started, resumed or finished (stages are shown on a terminal only)."""

    def __init__(self, names: list[str], show_score: bool, stream: TextIO) -> None:
        self.names = names
        self.show_score = show_score
        self.stream = raw_stream(stream)  # its cursor movements must reach the terminal
        self.tty = stream.isatty()
        self.state = {n: "waiting" for n in names}
        self.done = 0
        self.drawn = 0
        self.started_at = time.monotonic()

    def started(self, name: str) -> None:
        self.update(name, "starting")
        self.line(f"{name}: grading")

    def resumed(self, name: str, result: SubmissionResult) -> None:
        self.done += 1
        self.update(name, f"already graded, kept ({self.verdict(result)})")
        self.line(
            f"{name}: already graded with these settings, result kept (resumed): {self.verdict(result)}"
        )

    def finished(self, name: str, result: SubmissionResult, seconds: float) -> None:
        self.done += 1
        self.update(name, f"{self.verdict(result)} in {seconds:.0f} s")
        self.line(f"{name}: {self.verdict(result)} ({seconds:.0f} s)")

    def update(self, name: str, stage: str) -> None:
        self.state[name] = stage
        if not self.tty:
            return
        if self.drawn:  # move back up over the previous drawing
            self.stream.write(f"\x1b[{self.drawn}F")
        width = max(len(n) for n in self.names)
        elapsed = time.monotonic() - self.started_at
        self.stream.write(f"\x1b[2Kgrading: {self.done}/{len(self.names)} done, {elapsed:.0f} s\n")
        for n in self.names:
            self.stream.write(f"\x1b[2K  {one_line(n):<{width}}  {one_line(self.state[n])}\n")
        self.drawn = len(self.names) + 1
        self.stream.flush()

    def finish(self, results: list[SubmissionResult], out: Path, index: Path) -> None:
        """The closing table on stdout: one line per graded submission, then the ones that
        are not gradable, apart, with the reason; then where the reports are."""
        elapsed = time.monotonic() - self.started_at
        width = max((len(r.submission.name) for r in results), default=10)
        graded = [r for r in results if r.gradable]
        apart = [r for r in results if not r.gradable]
        for r in graded:
            grade = f"overall {r.overall:5.1f}  " if self.show_score else ""
            tasks = tasks_line(r)
            print(one_line(f"{r.submission.name:<{width}}  {grade}{tasks}", 1000))
        if apart:
            print(f"not gradable ({len(apart)}), not ranked:")
        for r in apart:
            print(
                one_line(f"{r.submission.name:<{width}}  not gradable: {one_line(r.reason)}", 1000)
            )
        smoke = [r for r in results if r.environment.get("budget") == "smoke"]
        if smoke:
            print(f"note: {run_settings.NOT_A_GRADE}")
        print(
            f"graded {len(graded)} submission(s), {len(apart)} not gradable, in {elapsed:.0f} s; "
            f"reports in {out}/ (open {index})"
        )

    def line(self, text: str) -> None:
        if not self.tty:
            self.stream.write(f"[{self.done}/{len(self.names)}] {one_line(text)}\n")
            self.stream.flush()

    def verdict(self, result: SubmissionResult) -> str:
        if not result.gradable:
            return "not gradable: " + one_line(result.reason or "; ".join(result.errors))
        tasks = result.code_tasks
        if result.errors and all(t.status in ("error", "missing") for t in tasks.values()):
            return "error: " + one_line(result.errors[0])
        passed = sum(t.status == "pass" for t in tasks.values())
        score = f"overall {result.overall:.1f}, " if self.show_score else ""
        return f"{score}{passed}/{len(tasks)} tasks pass"
