"""How a worker is isolated, and the command line that starts it.

Preferred: bubblewrap. As root, bwrap without a user namespace gives the worker its own pid,
network, IPC and UTS namespaces, a file system holding only the interpreter, the virtual
environment, the system libraries, the worker's own files at /worker and a tmpfs scratch
directory; inside it ``setpriv`` drops to a dedicated unprivileged uid with no capabilities
before Python starts. (Not a user namespace: as root, ``--unshare-user --uid N`` leaves the
real uid 0, and RLIMIT_NPROC does not bind for root; a real uid does.) Each concurrent worker
leases its own uid from a range, so one submission's fork bomb cannot use up another's
process budget.

Fallback ("rlimits-only"): where bwrap is missing or cannot start, a plain subprocess with
the same rlimits, scratch directory and audit hook. It has no network namespace and can see
the file system, so the project and the output folder are hidden by the audit hook (and, for
the output folder, by its permissions when the worker has a uid of its own: see
`grader.batch.guard_output`); ``SandboxInfo.notes`` says so, and the report shows it on every
scorecard.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from grader.config import SandboxLimits

Isolation = Literal["bwrap", "rlimits-only"]

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
RECIPE_MODULES = tuple(sorted(p.stem for p in HERE.glob("*_recipes.py")))
"""More trusted recipes (``training_recipes.py``, ...): found by name, imported by the worker
at start-up so their ``@recipe`` functions register."""
WORKER_FILES = (
    "worker.py",
    "protocol.py",
    "audit.py",
    "loader.py",
    "recorder.py",
    "roles.py",
    "recipes.py",
    *(f"{name}.py" for name in RECIPE_MODULES),
)
"""The worker's own code: bound (or copied) next to each other, none imports ``grader``."""
WORKER_DIR = "/worker"
SCRATCH_DIR = "/scratch"
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/bin", "/sbin")
UID_RANGE = range(61000, 62000)
UID_LOCK_DIR = Path(tempfile.gettempdir()) / "grader-sandbox-uids"
TEMPDIR_PREFIX = "grader-worker-"
"""Fallback workers' folders: ``grader-worker-<grader pid>-<random>`` in the temp folder."""


@dataclass(frozen=True)
class SandboxInfo:
    """How a worker is isolated, for the report."""

    isolation: Isolation
    network_isolated: bool
    uid: int | None
    """The unprivileged uid the worker runs as, when it has its own."""
    notes: tuple[str, ...] = ()
    """What the reader must know about this isolation (always set for rlimits-only)."""


@dataclass
class LaunchPlan:
    """Everything needed to start one worker; owns its uid lease and temporary folder."""

    argv: list[str]
    """The command, without the worker's JSON configuration (added last)."""
    env: dict[str, str]
    cwd: str | None
    config: dict[str, Any]
    """The worker's configuration, without the pipe fds (the process adds them)."""
    info: SandboxInfo
    lease: UidLease | None = None
    tempdir: str | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give back the uid and remove the temporary folder (after the worker is gone)."""
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        if self.tempdir is not None:
            shutil.rmtree(self.tempdir, ignore_errors=True)
            self.tempdir = None


def plan_launch(
    limits: SandboxLimits,
    device: str,
    seed: int,
    isolation: Literal["auto", "bwrap", "rlimits-only"] = "auto",
    hidden_paths: tuple[str, ...] = (),
) -> LaunchPlan:
    """A plan for a new worker; ``auto`` uses bwrap when it works here."""
    problem = bwrap_problem() if isolation != "rlimits-only" else "rlimits-only was requested"
    if isolation == "bwrap" and problem:
        raise RuntimeError(f"bubblewrap cannot start a worker here: {problem}")
    if problem is None:
        return _bwrap_plan(limits, device, seed)
    return _fallback_plan(limits, device, seed, hidden_paths, problem)


# --- bubblewrap ---------------------------------------------------------------------------


def _bwrap_plan(limits: SandboxLimits, device: str, seed: int) -> LaunchPlan:
    as_root = os.geteuid() == 0
    lease = UidLease.acquire() if as_root else None
    uid = lease.uid if lease else None
    argv = bwrap_argv(scratch_bytes=limits.scratch_bytes, device=device, uid=uid)
    notes = []
    if uid is None:
        notes.append(
            "bwrap runs in a user namespace (grader not root): the process limit counts the "
            "grader's own user, so a fork bomb is bounded less tightly"
        )
    config = _worker_config(limits, device, seed, SCRATCH_DIR, hidden=(), parent_pid=None)
    config["limits"]["max_processes"] = limits.max_processes if uid else _shared_nproc(limits)
    info = SandboxInfo("bwrap", network_isolated=True, uid=uid, notes=tuple(notes))
    return LaunchPlan(argv, _environment(limits, device, SCRATCH_DIR), None, config, info, lease)


def bwrap_argv(
    scratch_bytes: int, device: str, uid: int | None, python_args: tuple[str, ...] = ()
) -> list[str]:
    """The bwrap command line up to the worker script (or ``python_args`` instead of it)."""
    argv = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]
    if uid is None:
        argv.append("--unshare-user")  # not root: the user namespace is what makes bwrap work
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    # bwrap (as root) creates missing parents of a mount point with mode 0700, which the
    # worker's uid could not traverse: every folder on the way is created as 0755 first.
    argv += ["--perms", "0755", "--dir", "/etc"]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    prefix, venv = _python_roots()
    binds = [p for p in {prefix, venv} if not any(_under(p, s) for s in SYSTEM_DIRS)]
    binds = [p for p in binds if not any(p != q and _under(p, q) for q in binds)]
    made: set[str] = set()
    for target in sorted(binds):
        for parent in reversed(Path(target).parents[:-1]):
            if str(parent) not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        argv += ["--ro-bind", target, target]
    argv += ["--perms", "0755", "--dir", WORKER_DIR]
    for name in WORKER_FILES:
        argv += ["--ro-bind", str(HERE / name), f"{WORKER_DIR}/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    if device.startswith("cuda"):
        for node in sorted(Path("/dev").glob("nvidia*")):
            argv += ["--dev-bind", str(node), str(node)]
        argv += ["--ro-bind-try", "/sys", "/sys"]
    argv += ["--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", SCRATCH_DIR]
    if "/tmp" not in made:  # a venv under /tmp (a clone there) already made /tmp a folder
        argv += ["--symlink", SCRATCH_DIR, "/tmp"]
    argv += ["--chdir", SCRATCH_DIR, "--"]
    if uid is not None:
        argv += _setpriv(uid)
    script = python_args or (f"{WORKER_DIR}/worker.py",)
    return argv + [sys.executable, "-I", *script]


def _setpriv(uid: int) -> list[str]:
    return [
        shutil.which("setpriv") or "/usr/bin/setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """Why bwrap cannot run a worker here (None when it can): checked once per process by
    starting the interpreter in the same sandbox."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    as_root = os.geteuid() == 0
    if as_root and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    lease = UidLease.acquire() if as_root else None
    argv = bwrap_argv(1 << 20, "cpu", lease.uid if lease else None, python_args=("-c", "pass"))
    env = _environment(None, "cpu", SCRATCH_DIR)
    try:
        done = subprocess.run(argv, check=False, capture_output=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    finally:
        if lease is not None:
            lease.release()
    if done.returncode != 0:
        return f"bwrap failed: {done.stderr.decode(errors='replace').strip()[:300]}"
    return None


# --- fallback -----------------------------------------------------------------------------


def _fallback_plan(
    limits: SandboxLimits, device: str, seed: int, hidden: tuple[str, ...], problem: str
) -> LaunchPlan:
    _remove_orphaned_tempdirs()
    tempdir = tempfile.mkdtemp(prefix=f"{TEMPDIR_PREFIX}{os.getpid()}-")
    worker_dir, scratch = Path(tempdir, "worker"), Path(tempdir, "scratch")
    worker_dir.mkdir()
    scratch.mkdir(mode=0o700)
    for name in WORKER_FILES:
        shutil.copy(HERE / name, worker_dir / name)
    notes = [
        (
            f"NOT SANDBOXED: {problem}. The worker ran as a plain process with rlimits and an "
            "audit hook only: no network namespace (sockets refused by the hook), and the "
            "project and output folders hidden by the hook alone, which native code can bypass."
        )
    ]
    lease, argv = None, [sys.executable, "-I", str(worker_dir / "worker.py")]
    if fallback_has_own_uid():
        lease = UidLease.acquire()
        argv = _setpriv(lease.uid) + argv
        os.chmod(tempdir, 0o711)  # traversable by the worker's uid, not listable
        os.chown(scratch, lease.uid, lease.uid)
    elif os.geteuid() == 0:
        notes.append(
            "the worker runs as root (the interpreter is not reachable by an unprivileged "
            "uid), so the process limit does not bind"
        )
    hidden_all = (str(PROJECT_ROOT), str(UID_LOCK_DIR), *hidden)
    config = _worker_config(limits, device, seed, str(scratch), hidden_all, parent_pid=os.getpid())
    if lease is None:
        config["limits"]["max_processes"] = _shared_nproc(limits)
    info = SandboxInfo(
        "rlimits-only",
        network_isolated=False,
        uid=lease.uid if lease else None,
        notes=tuple(notes),
    )
    env = _environment(limits, device, str(scratch))
    return LaunchPlan(argv, env, str(scratch), config, info, lease, tempdir)


def fallback_has_own_uid() -> bool:
    """Whether a fallback worker runs as an unprivileged uid of its own (the grader is root,
    ``setpriv`` exists and that uid can reach the interpreter): then file permissions, not
    only the audit hook, keep it out of folders private to the grader."""
    return bool(
        os.geteuid() == 0
        and shutil.which("setpriv")
        and all(map(_world_reachable, _python_roots()))
    )


def _remove_orphaned_tempdirs() -> None:
    """Remove fallback folders whose grader died without cleaning up (killed, say)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMPDIR_PREFIX}*-*"):
        pid = folder.name[len(TEMPDIR_PREFIX) :].split("-")[0]
        mine = folder.lstat().st_uid == os.geteuid()
        if mine and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


# --- shared pieces ------------------------------------------------------------------------


def _worker_config(
    limits: SandboxLimits,
    device: str,
    seed: int,
    scratch: str,
    hidden: tuple[str, ...],
    parent_pid: int | None,
) -> dict[str, Any]:
    prefix, venv = _python_roots()
    return {
        "scratch": scratch,
        "trusted_roots": [prefix, venv, *SYSTEM_DIRS],
        "hidden_roots": list(hidden),
        "limits": {
            "cpu_seconds": limits.cpu_seconds,
            # CUDA reserves far more address space than it uses; RLIMIT_AS would break it.
            "memory_bytes": None if device.startswith("cuda") else limits.memory_bytes,
            "max_processes": limits.max_processes,
            "file_size_bytes": limits.file_size_bytes,
            "open_files": limits.open_files,
        },
        "threads": limits.threads,
        "seed": seed,
        "device": device,
        "max_message_bytes": limits.max_message_bytes,
        "parent_pid": parent_pid,
        "recipe_modules": list(RECIPE_MODULES),
    }


def _environment(limits: SandboxLimits | None, device: str, scratch: str) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's (no PYTHONPATH, no tokens)."""
    threads = str(limits.threads if limits else 1)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        # Plots drawn by the candidate's code go nowhere: a non-interactive backend, so
        # plt.show() opens no window and needs no display (savefig lands in the scratch).
        "MPLBACKEND": "Agg",
    }
    if device.startswith("cuda") and "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def _python_roots() -> tuple[str, str]:
    """(interpreter prefix, virtual environment), resolved."""
    return os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _world_reachable(path: str) -> bool:
    """Whether any user can reach ``path`` (every ancestor is world-executable)."""
    for folder in [Path(path), *Path(path).parents]:
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return False
    return True


def _shared_nproc(limits: SandboxLimits) -> int:
    """RLIMIT_NPROC counts every process of the real uid; when the worker shares the
    grader's, allow what already runs plus the worker's own budget."""
    return len(processes_of_uid(os.getuid())) + limits.max_processes


# --- uids ---------------------------------------------------------------------------------


def processes_of_uid(uid: int) -> list[int]:
    """Pids of the processes whose real uid is ``uid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as status:
                for line in status:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry))
                        break
        except OSError:
            continue  # the process ended while we looked
    return pids


class UidLease:
    """A uid from `UID_RANGE`, held through an exclusive lock file while a worker uses it,
    so concurrent graders (and parallel workers of one grader) never share one."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self._fd = fd

    @classmethod
    def acquire(cls) -> UidLease:
        _secure_lock_dir()
        for uid in UID_RANGE:
            fd = os.open(UID_LOCK_DIR / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if processes_of_uid(uid):  # something else runs as this uid: leave it alone
                os.close(fd)
                continue
            return cls(uid, fd)
        raise RuntimeError(f"every sandbox uid in {UID_RANGE} is in use")

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the fd drops the lock
            self._fd = -1


def _secure_lock_dir() -> None:
    """The lock folder must be ours alone, or another user could hold every uid."""
    UID_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(UID_LOCK_DIR)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise RuntimeError(f"{UID_LOCK_DIR} is not a private folder of this user")
