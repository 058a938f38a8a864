"""The candidate list of the interviewer's CI workflow (ci/grade-candidates.yml): pin each
candidate to a commit, fetch it without running anything, and turn signed grades into
commit statuses.

Runs as ``python3 -m grader.candidates ...`` from a checkout of the harness, with the
standard library and git only (the jobs that call it have not installed the grader).

The list is the interviewer's (an input of the workflow or ``ci/candidates.txt`` in their
repository), one candidate a line::

    # repository        ref (branch, tag or commit; default HEAD)   submission (glob)
    acme-hiring/alice   main                                        solution.ipynb
    acme-hiring/bob     3f2c9e1c0d...                                *.py

Every field is checked against a strict pattern before it is used, and the matrix carries
the resolved commit: what is graded is that commit, whatever is pushed later. Nothing here
reads a file of the candidate's as anything but data: a fetched tree loses its ``.git`` and
every symbolic link that leads outside it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
REF = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]+$")
SUBMISSION = re.compile(r"^(?![/-])(?!.*\.\.)[A-Za-z0-9._/*?\[\] -]+$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
TOKEN_ENV = "CANDIDATE_READ_TOKEN"
"""A read-only token for private candidate repositories, held by the jobs that fetch
(never by the one that grades)."""


class ListError(ValueError):
    """The candidate list (or a ref in it) is wrong: exit status 2 with the line named."""


def parse_list(text: str, default_submission: str) -> list[dict[str, str]]:
    """The candidates of a list: repository, ref and submission glob, each checked."""
    candidates = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) > 3:
            raise ListError(f"line {number}: expected 'repository [ref] [submission]': {raw!r}")
        repository, ref, submission = (*fields, "HEAD", default_submission)[:3]
        for name, value, pattern in (
            ("repository", repository, REPOSITORY),
            ("ref", ref, REF),
            ("submission", submission, SUBMISSION),
        ):
            if not pattern.match(value):
                raise ListError(f"line {number}: not a valid {name}: {value!r}")
        candidates.append({"repository": repository, "ref": ref, "submission": submission})
    if not candidates:
        raise ListError("the candidate list is empty")
    return candidates


def url_of(repository: str, url_base: str) -> str:
    return url_base.rstrip("/") + "/" + repository


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with the read token (if any) as an HTTP header, never in a URL or on disk."""
    config = ["-c", "advice.detachedHead=false", "-c", "protocol.ext.allow=never"]
    token = os.environ.get(TOKEN_ENV)
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        config += ["-c", f"http.extraHeader=AUTHORIZATION: basic {basic}"]
    done = subprocess.run(
        ["git", *config, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if done.returncode != 0:
        message = done.stderr.strip().replace(token or "\0", "***")
        raise ListError(f"git {args[0]} failed: {message[-400:]}")
    return done.stdout


def resolve(repository: str, ref: str, url_base: str) -> str:
    """The commit ``ref`` names in the candidate's repository now."""
    if COMMIT.match(ref):
        return ref
    wanted = ["HEAD"] if ref == "HEAD" else [f"refs/heads/{ref}", f"refs/tags/{ref}", ref]
    found = {}
    for line in git("ls-remote", url_of(repository, url_base)).splitlines():
        sha, _, name = line.partition("\t")
        found[name] = sha
    for name in wanted:
        if f"{name}^{{}}" in found:  # an annotated tag: the commit it points at
            return found[f"{name}^{{}}"]
        if name in found:
            return found[name]
    raise ListError(f"{repository}: no branch or tag {ref!r}")


def plan(text: str, url_base: str, default_submission: str) -> list[dict[str, str]]:
    """The workflow's matrix: one entry per candidate, pinned to a commit, with a unique
    name safe for folders and artifact names."""
    matrix, names = [], set()
    for candidate in parse_list(text, default_submission):
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", candidate["repository"]).strip("-")[:60]
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        commit = resolve(candidate["repository"], candidate["ref"], url_base)
        matrix.append({"name": name, **candidate, "commit": commit})
    return matrix


def fetch(repository: str, commit: str, url_base: str, dest: Path) -> dict[str, Any]:
    """Check out ``commit`` of ``repository`` into ``dest`` (a new folder) and make it plain
    data: no ``.git``, no symbolic link out of the tree. Returns the manifest written beside
    it (``<dest>.json``)."""
    if not COMMIT.match(commit) or not REPOSITORY.match(repository):
        raise ListError(f"refusing to fetch {repository!r} at {commit!r}")
    dest.mkdir(parents=True)
    git("init", "--quiet", str(dest))
    git("fetch", "--quiet", "--depth", "1", url_of(repository, url_base), commit, cwd=dest)
    git("checkout", "--quiet", "--detach", "FETCH_HEAD", cwd=dest)
    head = git("rev-parse", "HEAD", cwd=dest).strip()
    if head != commit:
        raise ListError(f"{repository}: fetched {head}, not the pinned {commit}")
    subprocess.run(["rm", "-rf", str(dest / ".git")], check=True)
    removed = []
    for path in sorted(dest.rglob("*")):
        if path.is_symlink() and not _inside(path, dest):
            removed.append(str(path.relative_to(dest)))
            path.unlink()
    manifest = {"repository": repository, "commit": commit, "removed_symlinks": removed}
    (dest.parent / f"{dest.name}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _inside(path: Path, root: Path) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base + os.sep)


def statuses(summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(repository, commit, state, description) of each verified row of a merged summary:
    a commit status says only what a signature backs."""
    found = []
    for row in summary.get("submissions", []):
        if row.get("signature") != "verified" or not row.get("repository"):
            continue
        if not (REPOSITORY.match(row["repository"]) and COMMIT.match(str(row.get("commit")))):
            continue
        overall = row.get("overall")
        grade = f"{overall:.0f}/100" if isinstance(overall, (int, float)) else "graded"
        description = f"interview grader: {grade}, {row.get('tasks_passed')}/{row.get('tasks_graded')} tasks (signed)"
        found.append((row["repository"], row["commit"], "success", description))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m grader.candidates", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="print the workflow's matrix (JSON) for a candidate list")
    p.add_argument("list", help="the candidate list file")
    p.add_argument("--url-base", default="https://github.com/")
    p.add_argument("--submission", default="*.ipynb", help="glob for lines that name none")
    p = sub.add_parser("fetch", help="check out one candidate at its pinned commit, as data")
    p.add_argument("--repository", required=True)
    p.add_argument("--commit", required=True)
    p.add_argument("--url-base", default="https://github.com/")
    p.add_argument("--dest", required=True, type=Path)
    p = sub.add_parser("statuses", help="commit statuses (TSV) for the verified rows of a summary")
    p.add_argument("summary", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "plan":
            text = Path(args.list).read_text(encoding="utf-8")
            print(json.dumps(plan(text, args.url_base, args.submission), separators=(",", ":")))
        elif args.command == "fetch":
            manifest = fetch(args.repository, args.commit, args.url_base, args.dest)
            for link in manifest["removed_symlinks"]:
                print(f"removed a symbolic link out of the repository: {link}", file=sys.stderr)
        else:
            summary = json.loads(args.summary.read_text(encoding="utf-8"))
            for fields in statuses(summary):
                print("\t".join(fields))
    except (ListError, OSError) as exc:
        print(f"grader.candidates: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
