"""The command line: ``grader grade``, ``check``, ``report``, ``summary``, ``assignments``,
``kinds``, ``handout``.

Exit status (DESIGN.md): 0 when graded (and at or above ``--fail-under`` when given; for
``check``, when no check fails), 1 when graded below it (for ``check``: a check failed or the
code did not load), 2 for a usage or input error (a bad option, a missing file, an unknown
assignment, an output folder another run is writing into), 130 when interrupted (Ctrl-C or
SIGTERM; finished results are kept and a rerun resumes).

Nothing from a submission or a result reaches the console raw: ``main`` writes through
`grader.text.CleanStream` (control characters made visible, lone surrogates replaced), so a
candidate's exception message or file name cannot drive the interviewer's terminal or a CI
log, whatever prints it.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from grader import __version__
from grader.assignment import BUILTIN_DIR, Assignment, AssignmentError, get
from grader.config import CHECK_BUDGETS, GraderConfig, IntakeLimits
from grader.paths import escape_reason, given_in, inside
from grader.settings import NOT_A_GRADE, describe
from grader.text import CleanStream

if TYPE_CHECKING:
    from grader.result import SubmissionResult
    from grader.signing import Keys

EXIT_OK, EXIT_BELOW, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
REPORT_FORMATS = ("html", "json", "junit", "markdown")

EPILOG_GRADE = """examples:
  grader grade submissions/typical.py --assignment transformer_lm --out out/
  grader grade submissions/ '../shared/seeds/004_*.ipynb' -a transformer_lm --out out/ --jobs 2
  grader grade cand.ipynb -a transformer_lm --data-dir ../shared/data/ptb --splits valid:test --fail-under 60
  grader grade cand.py -a transformer_lm --map attention=my_attention --format json,junit

A PATH is a submission file, a folder holding one candidate's work (a notebook and the .py
modules it imports), or a .zip/.tar.gz of that folder; a folder of candidates (each direct
child a file, folder or archive) is a batch, and what in it is not a candidate is printed
with the reason. Writes out/<name>/result.json (always: resume and `grader report` read it)
and the reports --format asks for (scorecard.html, junit.xml, summary.md), then
out/summary.json and out/index.html over the batch. A rerun on the same --out keeps results
already graded with the same submission and settings, and is refused when the folder holds
results of other settings (--force regrades them). A submission that cannot be graded at all
is "not gradable": no grade, listed apart (and below any --fail-under above 0). Exit
status: 0 graded, 1 below --fail-under, 2 bad input.
"""

EPILOG_CHECK = """example:
  grader check my_answer.ipynb --assignment transformer_lm

Runs every check of `grader grade` and the training run, prints each check that fails with
its message, and no grade. Exit status: 0 when no check fails, 1 when a check fails or errors
(or the code does not load), 2 on bad input.
"""

EPILOG_SUMMARY = """example:
  grader summary ci-artifacts/*/ --out leaderboard/

Finds every result.json under the folders (e.g. the report artifacts of many CI runs) and
writes one leaderboard: DIR/summary.json (one row per result, best overall first: name, path,
sha256, overall, the four criteria, tasks passed, training verdict, relative links) and
DIR/index.html, a sortable page linking each scorecard. It also prints the ranking; results
that are not gradable are listed apart. Results graded under different settings (budget,
corpus, splits, seed, device, assignment) are refused, naming what differs, unless
--mixed-settings is given (then every row shows its settings and the page warns).

Nothing in the folders is trusted: each result's signature is checked (verified, unsigned,
INVALID or unchecked; untrusted rows rank last, --require-signed refuses them), malformed
results are skipped with the reason, and the page links only scorecards it renders itself
(DIR/results/<name>/). With a signing key, summary.json is signed too.
"""


EPILOG_SIGN = """examples:
  GRADER_SIGNING_KEY=... grader sign out/
  grader sign graded/alice/ --repository acme/alice-test --commit 3f2c9e1... --ed25519-key-file key.pem

Adds a signed provenance block (submission sha256, assignment, harness version and commit,
the candidate's repository and commit when given) and a signature to every result.json and
summary.json under the paths. A file already signed is re-signed only if its signature
verifies with the same keys. Exit status: 0 all signed, 1 some refused, 2 no key or no file.
"""

EPILOG_VERIFY = """examples:
  GRADER_SIGNING_KEY=... grader verify leaderboard/
  grader verify --public-key grader.pub.pem alice/result.json

Prints verified, unsigned, INVALID (edited after signing, signed with another key, or not
a result at all) or unchecked (no key for the signature it carries) for every file.
Exit status: 0 when every file verifies, 1 otherwise, 2 with no key or no file.
"""


class UsageError(Exception):
    """A problem with the command line or its inputs (exit status 2)."""


# --- reading the command line -------------------------------------------------------------------


def expand_paths(patterns: list[str]) -> list[Path]:
    """The candidates the arguments name (see `find_candidates`), skips printed."""
    paths, _ = find_candidates(patterns)
    return paths


def find_candidates(patterns: list[str]) -> tuple[list[Path], dict[Path, str]]:
    """(candidates, refusals): files, archives and candidate folders named directly or by a
    glob, and the candidates of batch folders (`grader.intake.units.discover`: each direct
    child a file, folder or archive). What a batch folder holds that is not a candidate is
    printed on stderr with the reason; a candidate refused before grading (a link out of its
    folder) is returned with the reason, to be listed with the results."""
    from grader.intake.units import discover, is_candidate_folder

    found: list[Path] = []
    refused: dict[Path, str] = {}
    for pattern in patterns:
        root = given_in(pattern)
        for match in sorted(glob.glob(pattern)) or [pattern]:
            path = Path(match)
            if path.is_dir() and not is_candidate_folder(path):
                entries, skipped = discover(path)
                for skip in skipped:
                    print(f"grader: skipped {skip.path}: {skip.reason}", file=sys.stderr)
                for entry in entries:
                    reason = escape_reason(entry.path, root) or entry.refused
                    found.append(entry.path)
                    if reason:
                        refused[entry.path.absolute()] = reason
                        print(f"grader: refused {entry.path}: {reason}", file=sys.stderr)
            elif path.is_dir() or path.is_file():
                reason = escape_reason(path, root)
                found.append(path)
                if reason:
                    refused[path.absolute()] = reason
                    print(f"grader: refused {reason}", file=sys.stderr)
            else:
                raise UsageError(f"no such file or folder: {pattern}")
    # Links stay links (a refused one must keep its own name); the rest by where they lead.
    keyed = {(p.absolute() if p.absolute() in refused else p.resolve()): None for p in found}
    unique = list(keyed)
    if not unique:
        raise UsageError("no submission files found in " + " ".join(patterns))
    if all(p in refused for p in unique):
        raise UsageError(
            "no submission to grade in "
            + " ".join(patterns)
            + f" ({len(refused)} refused, see above)"
        )
    return unique, {p: refused[p] for p in unique if p in refused}


def check_assignment_source(assignment: Assignment, patterns: list[str]) -> None:
    """An assignment (weights, checks, aliases) is the interviewer's: one loaded from a folder
    inside a submission's tree could have been written by the candidate. The built-in ones
    ship with the grader."""
    if inside(assignment.folder, BUILTIN_DIR):
        return
    for pattern in patterns:
        tree = given_in(pattern)
        if inside(assignment.folder, tree):
            raise UsageError(
                f"the assignment folder {assignment.folder} lies inside the submission folder "
                f"{tree}: an assignment is never loaded from a candidate's files (use a built-in "
                "id, or a folder of your own outside the submissions)"
            )


def parse_map(items: list[str], assignment: Assignment) -> dict[str, str]:
    """``--map task=symbol`` options, checked against the assignment's task ids (and
    ``task.role`` for the further functions a task's kind names, e.g. ``training.train``)."""
    from grader import kinds

    tasks = [t.id for t in assignment.tasks] + [
        f"{t.id}.{role}" for t in assignment.tasks for role in kinds.get(t.kind).parts
    ]
    mapping = {}
    for item in items:
        task, sep, symbol = (part.strip() for part in item.partition("="))
        if not sep or not task or not symbol:
            raise UsageError(f"--map expects task=symbol, got {item!r}")
        if task not in tasks:
            raise UsageError(
                f"--map: {assignment.id} has no task {task!r}; its tasks: {', '.join(tasks)}"
            )
        mapping[task] = symbol
    return mapping


def parse_splits(text: str) -> tuple[str, str]:
    train, sep, valid = text.partition(":")
    if not sep or not train or not valid:
        raise UsageError(f"--splits expects train:valid (e.g. valid:test), got {text!r}")
    return train, valid


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"--format: unknown {', '.join(unknown) or 'empty list'}; choose from {','.join(REPORT_FORMATS)}"
        )
    return formats


def config_from(args: argparse.Namespace) -> GraderConfig:
    splits = parse_splits(args.splits) if args.splits else ("train", "valid")
    if args.data_dir and not Path(args.data_dir).is_dir():
        raise UsageError(f"--data-dir {args.data_dir} is not a folder")
    if args.data_dir and not args.splits and not Path(args.data_dir, "ptb.train.txt").exists():
        splits = ("valid", "test")  # the offline copy has no train split
    if args.data_dir:
        missing = [s for s in splits if not Path(args.data_dir, f"ptb.{s}.txt").is_file()]
        if missing:
            raise UsageError(
                f"--data-dir {args.data_dir} has no " + ", ".join(f"ptb.{s}.txt" for s in missing)
            )
    return GraderConfig(
        budget=args.budget,
        seed=args.seed,
        device=args.device,
        data_dir=args.data_dir,
        splits=splits,
        intake=IntakeLimits(main=args.main),
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def percentage(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {value:g}")
    return value


def keys_from(args: argparse.Namespace) -> Keys:
    """The signing and verifying keys the options and the environment name."""
    from grader.signing import SigningError, load_keys

    try:
        return load_keys(
            getattr(args, "signing_key_file", None),
            getattr(args, "ed25519_key_file", None),
            getattr(args, "public_key", None),
        )
    except SigningError as exc:
        raise UsageError(str(exc)) from None


# --- the verbs ----------------------------------------------------------------------------------


def run_grading(args: argparse.Namespace, *, show_score: bool) -> list[SubmissionResult]:
    """Grade every submission the arguments name; shared by ``grade`` and ``check``."""
    from grader.batch import OutputExposed, OutputLocked, SettingsChanged, grade_batch

    paths = expand_paths(args.paths)
    assignment = get(args.assignment, args.assignments_dir)
    check_assignment_source(assignment, args.paths)
    overrides = parse_map(args.map, assignment)
    formats = parse_formats(args.format)
    config = config_from(args)
    paths, refused = find_candidates(args.paths)
    if config.budget == "smoke":
        print(f"grader: note: {NOT_A_GRADE}", file=sys.stderr)
    warn_extra_packages(assignment)
    try:
        return grade_batch(
            paths,
            assignment,
            config,
            Path(args.out),
            overrides=overrides,
            jobs=args.jobs,
            formats=formats,
            resume=not args.no_resume,
            show_score=show_score,
            refused=refused,
            force=args.force,
        )
    except (OutputLocked, OutputExposed, SettingsChanged) as exc:
        raise UsageError(str(exc)) from None


def warn_extra_packages(assignment: Assignment) -> None:
    """Say which of the assignment's ``extra_packages`` the grader's environment lacks (the
    candidates' imports of them would fail)."""
    from grader.intake.imports import installed

    wanted = getattr(assignment, "extra_packages", ()) or ()
    for package in wanted:
        module = str(package).split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip()
        if module and not installed(module.replace("-", "_")):
            print(
                f"grader: warning: {assignment.id} lists `{package}` in extra_packages, but the "
                f"grader's environment does not have it: install it (uv pip install --python "
                f".venv/bin/python {package}), or what imports it is graded without it",
                file=sys.stderr,
            )


def cmd_grade(args: argparse.Namespace) -> int:
    keys = keys_from(args)
    if keys.can_sign:
        guard_signing_key()
    results = run_grading(args, show_score=True)
    if args.profile:
        from grader.stages import profile_lines

        for result in results:
            print("\n".join(profile_lines(result.submission.name, result.environment)))
    if keys.can_sign:
        sign_batch(results, Path(args.out), keys)
    if args.fail_under is not None:
        # No grade cannot pass a gate (above 0: --fail-under 0 means "never fail on a grade").
        low = [
            r
            for r in results
            if (r.overall is None and args.fail_under > 0)
            or (r.overall is not None and r.overall < args.fail_under)
        ]
        for r in low:
            what = f"overall {r.overall:.1f} is" if r.overall is not None else "not gradable,"
            print(
                f"{r.submission.name}: {what} below --fail-under {args.fail_under:g}",
                file=sys.stderr,
            )
        if low:
            return EXIT_BELOW
    return EXIT_OK


def guard_signing_key() -> None:
    """Grading with a signing key at hand is safe only where candidate code cannot read this
    process (bubblewrap: its own pid namespace and file system); the key also leaves the
    environment the grading processes inherit."""
    from grader.sandbox.isolation import bwrap_problem
    from grader.signing import ED25519_ENV, HMAC_ENV

    problem = bwrap_problem()
    if problem:
        raise UsageError(
            f"a signing key is set, but candidate code would run without bubblewrap ({problem}) "
            "and could read it: grade without the key, then sign in a separate step (`grader sign`)"
        )
    for variable in (HMAC_ENV, ED25519_ENV):
        os.environ.pop(variable, None)


def sign_batch(results: list[SubmissionResult], out: Path, keys: Keys) -> None:
    """Sign this run's results (and nothing else the output folder may hold) and its summary."""
    from grader.signing import (
        COMMIT_ENV,
        REPOSITORY_ENV,
        SigningError,
        harness_identity,
        sign_file,
    )

    harness = harness_identity()
    repository, commit = os.environ.get(REPOSITORY_ENV), os.environ.get(COMMIT_ENV)
    try:
        for result in results:
            folder = out / result.submission.name
            sign_file(folder / "result.json", keys, repository, commit, harness)
        sign_file(out / "summary.json", keys, harness=harness)
    except SigningError as exc:
        raise UsageError(str(exc)) from None
    print(f"signed {len(results)} result(s) and {out / 'summary.json'}")


def cmd_check(args: argparse.Namespace) -> int:
    """The candidate's self-check: the failing checks in words, no grade."""
    from grader.result import AUTHORSHIP_WORDS

    args.out = args.out or ".grader-check"
    args.force = True  # a self-check's folder is scratch: other settings simply regrade
    failed = False
    for result in run_grading(args, show_score=False):
        problems = [
            f"  {c.status.upper()} {c.name}: {c.message.splitlines()[0] if c.message else ''}"
            + (f" ({AUTHORSHIP_WORDS['handout']})" if c.inherited else "")
            for task in result.code_tasks.values()
            for c in task.checks
            if c.status in ("fail", "error")
        ]
        problems += [f"  ERROR {e.splitlines()[0]}" for e in result.errors]
        missing = [t.id for t in result.code_tasks.values() if t.status == "missing"]
        if not result.gradable:
            problems.insert(0, f"  NOT GRADABLE: {result.reason}")
        failed |= bool(problems)
        print(
            f"{result.submission.name}: {len(problems)} problem(s)"
            + (":" if problems else ", every check passed")
        )
        for line in problems:
            print(line)
        if missing:
            print(f"  not attempted (nothing to check): {', '.join(missing)}")
    print(f"details: {args.out}/<name>/summary.md and scorecard.html")
    return EXIT_BELOW if failed else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from grader.report import ReportError, write_reports
    from grader.report.files import read_json, result_from_data
    from grader.signing import verify_document

    keys = keys_from(args)
    formats = tuple(
        f for f in parse_formats(args.format) if f != "json"
    )  # never rewrite the source
    for name in args.results:
        try:
            data = read_json(Path(name))
            result = result_from_data(data, Path(name))
        except ReportError as exc:
            raise UsageError(str(exc)) from None
        check = verify_document(data, keys)
        written = write_reports(result, Path(name).parent, formats=formats, signature=check)
        print(f"re-rendered {', '.join(str(p) for p in written.values())} ({check.status})")
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    from grader.report.merge import MixedSettings, merge

    folders = [Path(f) for f in args.folders]
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"no such folder: {folder}")
        if folder.resolve() == Path(args.out).resolve():
            raise UsageError(f"--out {args.out} is one of the folders merged: choose a new folder")
    try:
        merged = merge(
            folders,
            Path(args.out),
            keys_from(args),
            require_signed=args.require_signed,
            mixed_settings=args.mixed_settings,
        )
    except MixedSettings as exc:
        raise UsageError(str(exc)) from None
    for path, reason in merged.skipped:
        print(f"grader: skipped {path}: {reason}", file=sys.stderr)
    if not merged.rows:
        raise UsageError(
            "no readable"
            + (" and verified" if args.require_signed else "")
            + " result.json found under "
            + " ".join(args.folders)
        )
    summary = json.loads(Path(merged.summary).read_text(encoding="utf-8"))
    mixed = summary.get("mixed_settings") or {}
    for row in summary["submissions"]:  # the leaderboard's own order, graded results only
        shown = f"  [{describe(row['settings'])}]" if mixed and row.get("settings") else ""
        print(
            f"{row['rank']:>3}. {row['overall']:5.1f}  {row['tasks_passed']}/{row['tasks_graded']} tasks  "
            f"{row['signature']:<9}  {row['name']}  ({row['result'].rsplit('/', 1)[0]}){shown}"
        )
    apart = summary.get("not_gradable", [])
    if apart:
        print(f"not gradable ({len(apart)}), not ranked:")
    for row in apart:
        print(f"  -  {row['name']}  ({row['result'].rsplit('/', 1)[0]}): {row['reason']}")
    if summary.get("mixed_settings"):
        print(
            "warning: mixed settings, grades do not compare: "
            + "; ".join(summary["mixed_settings"])
        )
    print(f"{len(merged.rows)} results merged into {merged.summary} and {merged.index}")
    if merged.refused:
        print(
            f"grader: {merged.refused} result(s) refused by --require-signed (see above)",
            file=sys.stderr,
        )
        return EXIT_BELOW
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    from grader.signing import SigningError, find_documents, harness_identity, sign_file

    keys = keys_from(args)
    if not keys.can_sign:
        raise UsageError(
            "no signing key: set GRADER_SIGNING_KEY, or give --signing-key-file or --ed25519-key-file"
        )
    try:
        paths = find_documents(args.paths)
    except SigningError as exc:
        raise UsageError(str(exc)) from None
    if not paths:
        raise UsageError("no result.json or summary.json found in " + " ".join(args.paths))
    repository = args.repository or os.environ.get("GRADER_CANDIDATE_REPOSITORY") or None
    commit = args.commit or os.environ.get("GRADER_CANDIDATE_COMMIT") or None
    harness = harness_identity()
    refused = 0
    for path in paths:
        try:
            sign_file(path, keys, repository, commit, harness)
        except SigningError as exc:
            refused += 1
            print(f"grader: {exc}", file=sys.stderr)
            continue
        print(f"signed   {path}")
    print(f"{len(paths) - refused} of {len(paths)} file(s) signed")
    return EXIT_BELOW if refused else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from grader.signing import SigningError, find_documents, verify_file

    keys = keys_from(args)
    if not keys.can_verify:
        raise UsageError(
            "no key to verify with: set GRADER_SIGNING_KEY or GRADER_PUBLIC_KEY, or give "
            "--signing-key-file or --public-key"
        )
    try:
        paths = find_documents(args.paths)
    except SigningError as exc:
        raise UsageError(str(exc)) from None
    if not paths:
        raise UsageError("no result.json or summary.json found in " + " ".join(args.paths))
    good = 0
    for path in paths:
        check = verify_file(path, keys)
        good += check.verified
        origin = check.provenance.get("repository") if check.verified else None
        where = f" [{origin}@{str(check.provenance.get('commit'))[:12]}]" if origin else ""
        print(f"{check.status:<9} {path}: {check.reason}{where}")
    print(f"{good} of {len(paths)} file(s) verified")
    return EXIT_OK if good == len(paths) else EXIT_BELOW


def cmd_assignments(args: argparse.Namespace) -> int:
    """Every assignment that loads, with its tasks and their kinds; then every folder that does
    not load, with the reason (and exit status 2, so a broken test is never missed)."""
    from grader.assignment import scan

    found, errors = scan(args.assignments_dir)
    for assignment in found.values():
        print(f"{assignment.id}: {assignment.title}  ({assignment.folder})")
        for task in assignment.tasks:
            names = ", ".join(task.symbols[:3] + task.aliases[:2]) or "-"
            print(
                f"  task {task.id:<22} kind {task.kind:<20} weight {task.weight:<4g} symbols: {names}"
            )
        for question in assignment.questions:
            print(f"  question:{question.id:<14} {question.prompt[:70]}")
    for error in errors:
        print(f"grader: error: {error}", file=sys.stderr)
    return EXIT_USAGE if errors else EXIT_OK


def cmd_kinds(args: argparse.Namespace) -> int:
    from grader.kinds import listing

    print(listing.markdown() if args.markdown else listing.text())
    return EXIT_OK


def cmd_handout(args: argparse.Namespace) -> int:
    from grader.handout import write_handout

    assignment = get(args.name, args.assignments_dir)
    if args.check:
        return check_handout(assignment, args)
    path = write_handout(assignment, Path(args.out))
    print(f"wrote {path} and {path.with_suffix('.py')}")
    return EXIT_OK


def check_handout(assignment: Assignment, args: argparse.Namespace) -> int:
    """`grader handout --check`: the reference through the handout's scaffolding; exit 1 when
    the handout's flaws differ from those its assignment declares."""
    from grader import handout_check

    config = GraderConfig(budget=args.budget, seed=args.seed)
    report = handout_check.check_handout(
        assignment, config, progress=lambda stage: print(f"  {stage}", file=sys.stderr)
    )
    print(handout_check.render(report))
    return EXIT_OK if report.clean else EXIT_BELOW


# --- the parser ---------------------------------------------------------------------------------


def add_grading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="submission files, folders or globs")
    p.add_argument(
        "--assignment",
        "-a",
        required=True,
        help="assignment id (see `grader assignments`) or folder",
    )
    p.add_argument(
        "--budget",
        choices=tuple(CHECK_BUDGETS),
        default="quick",
        help="examples per property and training steps (default: quick, under a minute per submission on 2 CPU cores; "
        "smoke only checks that the grader runs, its verdicts are not a grade)",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=positive_int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="submissions graded in parallel (default: half the cores; each worker uses one thread)",
    )
    p.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where the candidate's model runs"
    )
    p.add_argument(
        "--data-dir",
        help="folder with ptb.<split>.txt (e.g. ../shared/data/ptb); default: the synthetic corpus",
    )
    p.add_argument(
        "--splits",
        help="training:validation splits (default train:valid, or valid:test when there is no train split)",
    )
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="TASK=SYMBOL",
        help="grade TASK with the candidate's SYMBOL (repeatable; training.train=FN names their loop)",
    )
    p.add_argument(
        "--format",
        default=",".join(REPORT_FORMATS),
        help="reports to write, comma-separated (default: all of html,json,junit,markdown)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for Hypothesis, torch and the synthetic corpus (default 0)",
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="regrade submissions whose result.json is already up to date",
    )
    p.add_argument(
        "--main",
        metavar="NAME",
        help="in a folder or archive submission, the main file to grade (a name or a glob, "
        "e.g. solution.ipynb); default: the file defining the most tasks, notebooks first",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="grade into an --out that holds results of other settings (they are regraded)",
    )


def add_key_options(p: argparse.ArgumentParser, *, sign: bool, verify: bool) -> None:
    """Where the keys come from: files, or the environment (GRADER_SIGNING_KEY for HMAC,
    GRADER_ED25519_KEY and GRADER_PUBLIC_KEY for Ed25519, PEM text)."""
    p.add_argument(
        "--signing-key-file",
        metavar="FILE",
        help="file holding the HMAC key (default: the GRADER_SIGNING_KEY variable)",
    )
    if sign:
        p.add_argument(
            "--ed25519-key-file",
            metavar="PEM",
            help="Ed25519 private key, PEM (default: the GRADER_ED25519_KEY variable)",
        )
    if verify:
        p.add_argument(
            "--public-key",
            metavar="PEM",
            help="Ed25519 public key, PEM, to verify without being able to sign "
            "(default: the GRADER_PUBLIC_KEY variable)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader",
        description="Grade machine-learning interview coding tests: "
        "sandboxed, property-checked against a reference, trained, scored and explained.",
        epilog="example:\n  grader grade submissions/ --assignment transformer_lm --out out/\n"
        "run `grader COMMAND --help` for each command's options and examples",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    parser.add_argument(
        "--assignments-dir", action="append", default=[], help="extra folder of assignments"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "grade",
        help="grade submissions and write reports",
        epilog=EPILOG_GRADE,
        formatter_class=raw,
        description="Grade each submission: sandboxed property checks against the reference, a "
        "training run, the four criteria and an overall grade out of 100.",
    )
    add_grading_options(p)
    add_key_options(p, sign=True, verify=False)
    p.add_argument("--out", "-o", default="out", help="output folder (default: out)")
    p.add_argument(
        "--fail-under",
        type=percentage,
        metavar="GRADE",
        help="exit 1 if any overall grade is below GRADE (0-100)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="print where each submission's grading time went: every stage, its seconds and share",
    )
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser(
        "check",
        help="the candidate's self-check before submitting (same checks, no grade)",
        epilog=EPILOG_CHECK,
        formatter_class=raw,
        description="Run the grader's checks on your answer and list the ones that fail.",
    )
    add_grading_options(p)
    p.add_argument(
        "--out", "-o", default=None, help="where to write the reports (default: .grader-check)"
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "report",
        help="re-render the reports of result.json files",
        formatter_class=raw,
        epilog="example:\n  grader report out/typical/result.json\n\nWrites scorecard.html, junit.xml "
        "and summary.md beside each result.json, with the current templates.\n",
    )
    p.add_argument("results", nargs="+", metavar="RESULT_JSON")
    p.add_argument(
        "--format",
        default="html,junit,markdown",
        help="reports to re-render (default: html,junit,markdown)",
    )
    add_key_options(p, sign=False, verify=True)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "summary",
        help="merge the results of many runs into one leaderboard",
        epilog=EPILOG_SUMMARY,
        formatter_class=raw,
    )
    p.add_argument("folders", nargs="+", metavar="DIR")
    p.add_argument(
        "--mixed-settings",
        action="store_true",
        help="merge results graded under different settings (each row shows its settings)",
    )
    p.add_argument(
        "--out",
        "-o",
        default="leaderboard",
        help="folder for summary.json and index.html (default: leaderboard)",
    )
    p.add_argument(
        "--require-signed",
        action="store_true",
        help="merge only results whose signature verifies; refuse unsigned and invalid ones (exit 1)",
    )
    add_key_options(p, sign=True, verify=True)
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser(
        "sign",
        help="sign result.json and summary.json files (in a step that never runs candidate code)",
        epilog=EPILOG_SIGN,
        formatter_class=raw,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="result or summary files, or folders")
    p.add_argument(
        "--repository",
        help="the candidate's repository, recorded in the signed provenance "
        "(default: the GRADER_CANDIDATE_REPOSITORY variable)",
    )
    p.add_argument(
        "--commit",
        help="the candidate's commit graded (default: the GRADER_CANDIDATE_COMMIT variable)",
    )
    add_key_options(p, sign=True, verify=True)
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser(
        "verify",
        help="check the signatures of result.json and summary.json files",
        epilog=EPILOG_VERIFY,
        formatter_class=raw,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="result or summary files, or folders")
    add_key_options(p, sign=False, verify=True)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "assignments",
        help="list the tests the harness knows, with their tasks",
        formatter_class=raw,
        epilog="example:\n  grader assignments\n  grader --assignments-dir my_tests/ assignments\n",
    )
    p.set_defaults(func=cmd_assignments)

    p = sub.add_parser(
        "kinds",
        help="list the kinds of task, with their options and checks",
        formatter_class=raw,
        epilog="example:\n  grader kinds\n  grader kinds --markdown   # the checks table of docs/ARCHITECTURE.md\n\n"
        'A task of an assignment names its kind (`kind = "function"`) and gives the kind\'s options.\n',
    )
    p.add_argument("--markdown", action="store_true", help="print the checks as a Markdown table")
    p.set_defaults(func=cmd_kinds)

    p = sub.add_parser(
        "handout",
        help="write the starter notebook a candidate receives",
        formatter_class=raw,
        epilog="example:\n  grader handout transformer_lm --out handout/\n"
        "  grader handout --check transformer_lm   # the handout's own flaws\n\n"
        "Writes <id>.ipynb (no outputs) and <id>.py (jupytext py:percent) with the same cells.\n",
    )
    p.add_argument("name", help="assignment id")
    p.add_argument(
        "--out", "-o", default=".", help="folder to write the starter files into (default: .)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="instead: graft the reference into the handout, grade it in a sandbox and list the "
        "handout's own flaws (declared [[traps]] found or not, and failures none explains); "
        "exit 1 when they differ from the declaration",
    )
    p.add_argument("--budget", choices=tuple(CHECK_BUDGETS), default="quick", help="with --check")
    p.add_argument("--seed", type=int, default=0, help="with --check")
    p.set_defaults(func=cmd_handout)
    return parser


def _terminated(signum: int, frame: object) -> NoReturn:
    """SIGTERM (a CI job cancelled, `kill`) ends a run the way Ctrl-C does, children included."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = CleanStream(sys.stdout), CleanStream(sys.stderr)  # see grader.text
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)  # exits 2 itself on a malformed command line
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return args.func(args)
    except (UsageError, AssignmentError) as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("grader: interrupted; finished results are kept and a rerun resumes", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
