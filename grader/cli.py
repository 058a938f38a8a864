"""The command line: ``grader grade``, ``report``, ``assignments``, ``handout``, ``check``, ``summary``.

Exit status: 0 when graded (and at or above ``--fail-under`` when given), 1 when graded below
it, 2 for a usage or input error.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

from grader import __version__
from grader.assignment import AssignmentError, available, get
from grader.config import GraderConfig

EXIT_OK, EXIT_BELOW, EXIT_USAGE = 0, 1, 2
SUBMISSION_SUFFIXES = (".ipynb", ".py", ".md", ".txt", ".markdown")

EPILOG_GRADE = """example:
  grader grade submissions/ ../shared/seeds/004_*.ipynb --assignment transformer_lm --out out/
  grader grade cand.ipynb --assignment transformer_lm --data-dir ../shared/data/ptb --splits valid:test --fail-under 60
"""


class UsageError(Exception):
    """A problem with the command line or its inputs (exit status 2)."""


def expand_paths(patterns: list[str]) -> list[Path]:
    """Files named directly, files matched by globs, and submission files inside folders."""
    found: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) or [pattern]
        for match in matches:
            path = Path(match)
            if path.is_dir():
                found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUBMISSION_SUFFIXES and p.name.lower() != "readme.md")
            elif path.exists():
                found.append(path)
            else:
                raise UsageError(f"no such file or folder: {pattern}")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise UsageError("no submission files found in " + " ".join(patterns))
    return unique


def parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        task, sep, symbol = item.partition("=")
        if not sep or not task or not symbol:
            raise UsageError(f"--map expects task=symbol, got {item!r}")
        mapping[task.strip()] = symbol.strip()
    return mapping


def parse_splits(text: str) -> tuple[str, str]:
    train, sep, valid = text.partition(":")
    if not sep or not train or not valid:
        raise UsageError(f"--splits expects train:valid (e.g. valid:test), got {text!r}")
    return train, valid


def config_from(args: argparse.Namespace) -> GraderConfig:
    splits = parse_splits(args.splits) if getattr(args, "splits", None) else ("train", "valid")
    data_dir = getattr(args, "data_dir", None)
    if data_dir and not Path(data_dir).is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder")
    if data_dir and not getattr(args, "splits", None):
        splits = ("valid", "test") if not Path(data_dir, "ptb.train.txt").exists() else ("train", "valid")
    return GraderConfig(budget=args.budget, seed=args.seed, device=args.device, data_dir=data_dir, splits=splits)


def cmd_grade(args: argparse.Namespace, *, score: bool = True) -> int:
    from grader.batch import grade_batch

    assignment = get(args.assignment, args.assignments_dir)
    paths = expand_paths(args.paths)
    config = config_from(args)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    results = grade_batch(paths, assignment, config, Path(args.out), overrides=parse_map(args.map),
                          jobs=args.jobs, formats=formats, resume=not args.no_resume, show_score=score)
    if args.fail_under is not None:
        low = [r for r in results if r.overall < args.fail_under]
        if low:
            print(f"{len(low)} submission(s) graded below --fail-under {args.fail_under:g}", file=sys.stderr)
            return EXIT_BELOW
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    args.out = args.out or str(Path(".grader-check"))
    args.fail_under = None
    return cmd_grade(args, score=False)


def cmd_report(args: argparse.Namespace) -> int:
    from grader.report import load_result, write_reports

    for name in args.results:
        path = Path(name)
        if not path.exists():
            raise UsageError(f"no such result file: {name}")
        result = load_result(path)
        written = write_reports(result, path.parent, formats=("html", "junit", "markdown"))
        print(f"re-rendered {', '.join(str(p) for p in written.values())}")
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    from grader.report import load_result, write_batch

    results = []
    for folder in args.folders:
        for path in sorted(Path(folder).rglob("result.json")):
            results.append((load_result(path), path.parent))
    if not results:
        raise UsageError("no result.json found under " + " ".join(args.folders))
    summary, index = write_batch(results, Path(args.out))
    print(f"{len(results)} results merged: {index} and {summary}")
    return EXIT_OK


def cmd_assignments(args: argparse.Namespace) -> int:
    for assignment in available(args.assignments_dir).values():
        print(f"{assignment.id}: {assignment.title}")
        for task in assignment.tasks:
            names = ", ".join(task.symbols + task.aliases[:3]) or "-"
            print(f"  task {task.id:<22} weight {task.weight:<4g} symbols: {names}")
        for question in assignment.questions:
            print(f"  question:{question.id:<14} {question.prompt[:70]}")
    return EXIT_OK


def cmd_handout(args: argparse.Namespace) -> int:
    from grader.handout import write_handout

    assignment = get(args.name, args.assignments_dir)
    path = write_handout(assignment, Path(args.out))
    print(f"wrote {path}")
    return EXIT_OK


def add_grading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="submission files, folders or globs")
    p.add_argument("--assignment", "-a", required=True, help="assignment id (see `grader assignments`) or folder")
    p.add_argument("--budget", choices=("quick", "standard", "thorough", "full"), default="quick",
                   help="examples per property and training steps (default: quick, about a minute per submission on 2 CPU cores)")
    p.add_argument("--jobs", "-j", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help="submissions graded in parallel (default: half the cores; each worker uses one thread)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the candidate's model runs")
    p.add_argument("--data-dir", help="folder with ptb.<split>.txt (e.g. ../shared/data/ptb); default: the synthetic corpus")
    p.add_argument("--splits", help="training:validation splits (default train:valid, or valid:test when there is no train split)")
    p.add_argument("--map", action="append", default=[], metavar="TASK=SYMBOL", help="grade TASK with the candidate's SYMBOL")
    p.add_argument("--format", default="html,json,junit,markdown", help="reports to write (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed for Hypothesis, torch and the synthetic corpus")
    p.add_argument("--no-resume", action="store_true", help="regrade submissions whose result.json is already up to date")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Grade machine-learning interview coding tests: "
                                     "sandboxed, property-checked against a reference, trained, scored and explained.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    parser.add_argument("--assignments-dir", action="append", default=[], help="extra folder of assignments")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("grade", help="grade submissions and write reports", epilog=EPILOG_GRADE,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Grade each submission: DIR/<name>/result.json and scorecard.html, and for a batch "
                       "DIR/summary.json and DIR/index.html. Exit 0 when graded (and at or above --fail-under), 1 below it, 2 on bad input.")
    add_grading_options(p)
    p.add_argument("--out", "-o", default="out", help="output folder (default: out)")
    p.add_argument("--fail-under", type=float, help="exit 1 if any overall grade is below this (0-100)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("check", help="the candidate's self-check before submitting (same checks, no score)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  grader check my_answer.ipynb --assignment transformer_lm\n")
    add_grading_options(p)
    p.add_argument("--out", "-o", default=None, help="where to write the report (default: .grader-check)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="re-render scorecards from result.json files",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  grader report out/strong/result.json\n")
    p.add_argument("results", nargs="+", metavar="RESULT_JSON")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("summary", help="merge result.json files of many runs into one leaderboard",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  grader summary ci-artifacts/*/ --out leaderboard/\n")
    p.add_argument("folders", nargs="+", metavar="DIR")
    p.add_argument("--out", "-o", default="leaderboard")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("assignments", help="list the tests the harness knows, with their tasks",
                       epilog="example:\n  grader assignments\n", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=cmd_assignments)

    p = sub.add_parser("handout", help="write the starter notebook a candidate receives",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  grader handout transformer_lm --out handout/\n")
    p.add_argument("name", help="assignment id")
    p.add_argument("--out", "-o", default=".", help="folder to write the notebook into")
    p.set_defaults(func=cmd_handout)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, AssignmentError) as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("grader: interrupted; finished results are kept and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
