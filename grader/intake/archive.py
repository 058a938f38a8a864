"""Unpack a candidate's archive (``.zip``, ``.tar``, ``.tar.gz``/``.tgz``) safely.

The grader unpacks the archive itself, in the grading process and before any sandbox, so
the archive is untrusted input handled by trusted code. Every rule below refuses the
whole archive (`ArchiveRefused`, with a sentence an interviewer can act on) rather than
skipping the offending member: an archive built to escape its folder or to fill the disk
is hostile, and whatever else it holds is not worth grading unseen.

* **Paths stay inside the target.** A member named with an absolute path (``/etc/x``,
  ``C:\\x``), a ``..`` component or a NUL byte is refused before anything is written (the
  "zip-slip" of archive tools); ``\\`` counts as a separator, as Windows archivers use it.
* **Regular files and folders only.** Symbolic and hard links, devices and FIFOs are refused:
  a link could point the grader at any file on the machine.
* **Sizes are counted, not believed.** The archive's own size, the number of entries, each
  file's size and the total are limited (`grader.config.IntakeLimits`); the declared sizes
  refuse a zip bomb at once, and the bytes actually written are counted again as they are
  written, so a header that lies stops at the limit too. The compression ratio of each
  member and of the whole archive is limited as well.
* **Nothing is overwritten.** Files are created with ``O_EXCL | O_NOFOLLOW`` inside a target
  folder that must be empty; two members with the same name are refused.

A damaged archive (bad CRC, truncated, not an archive at all) and a password-protected one
are refused the same way, with what was wrong. Nested archives are not unpacked: a zip
inside the zip is a file like any other.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from grader.config import IntakeLimits

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
"""Names the grader unpacks, compared in lower case."""
CHUNK = 1 << 16
JUNK = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
"""What archivers add by themselves (macOS resource forks, folder settings): not unpacked,
not counted against the candidate, not reported one by one."""


DAMAGED = (
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,  # a compression method zipfile lacks (deflate64)
    RuntimeError,  # zipfile's "encrypted, password required"
    ValueError,
)
"""What the archive libraries raise on a damaged, truncated or unsupported archive."""


class ArchiveRefused(Exception):
    """The archive is not unpacked; ``str()`` says why, in words for the report."""


@dataclass(frozen=True)
class Unpacked:
    """What an archive held, once unpacked."""

    files: tuple[str, ...]
    """Relative POSIX paths of the files written, in archive order."""
    total_bytes: int
    """Bytes written."""
    left_out: tuple[str, ...] = field(default_factory=tuple)
    """Archiver junk not unpacked (``__MACOSX/...``, ``.DS_Store``)."""


def is_archive(path: Path) -> bool:
    """Whether the grader treats ``path`` as an archive (by its name)."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def archive_stem(name: str) -> str:
    """``alice.tar.gz`` -> ``alice``: the name without its archive suffix."""
    lower = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def unpack(archive: Path, target: Path, limits: IntakeLimits) -> Unpacked:
    """Unpack ``archive`` into the empty folder ``target`` under ``limits``.

    Raises `ArchiveRefused` (nothing of the archive is to be graded; what was written so far
    stays inside ``target``, which the caller removes)."""
    size = archive.stat().st_size
    if size > limits.max_archive_bytes:
        raise ArchiveRefused(
            f"the archive is {_mb(size)}, above the {_mb(limits.max_archive_bytes)} limit for "
            "an archive: it was not opened (send the code without data or checkpoints)"
        )
    if any(target.iterdir()):
        raise ValueError(f"{target} is not empty")  # the caller's mistake, not the candidate's
    writer = _Writer(target, limits, packed=max(size, 1))
    lower = archive.name.lower()
    try:
        if lower.endswith(".zip"):
            _unzip(archive, writer)
        else:
            _untar(archive, writer, "r|gz" if lower.endswith(("gz", ".tgz")) else "r|")
    except DAMAGED as exc:
        raise ArchiveRefused(
            f"the archive is damaged or cannot be unpacked ({_why(exc)})"
        ) from None
    return Unpacked(tuple(writer.files), writer.total, tuple(writer.junk))


# --- the two formats ------------------------------------------------------------------------


def _unzip(archive: Path, writer: _Writer) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        writer.count(len(members))
        declared = 0
        for info in members:  # everything is checked before anything is written
            path = writer.check_name(info.filename)
            if path is None:
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveRefused(
                    f"the archive holds a symbolic link ({info.filename!r}): links are refused, "
                    "they could point the grader at any file on the machine"
                )
            if info.flag_bits & 0x1:
                raise ArchiveRefused(
                    f"the archive is password-protected ({info.filename!r} is encrypted): "
                    "ask for it without a password"
                )
            if not info.is_dir():
                writer.check_size(info.filename, info.file_size, info.compress_size)
                declared += info.file_size
        writer.check_total(declared, "declares")
        for info in members:
            path = writer.check_name(info.filename)
            if path is None:
                continue
            if info.is_dir():
                writer.folder(path)
                continue
            with zf.open(info) as source:
                writer.write(path, source, info.compress_size)


def _untar(archive: Path, writer: _Writer, mode: str) -> None:
    # A stream ("r|"): each header is checked before its data is read, so a gzip bomb is
    # refused on the size its header declares, never decompressed to learn its size.
    with tarfile.open(archive, mode) as tf:
        seen = 0
        for member in tf:
            seen += 1
            writer.count(seen)
            path = writer.check_name(member.name)
            if path is None:
                continue
            if member.issym() or member.islnk():
                raise ArchiveRefused(
                    f"the archive holds a link ({member.name!r} -> {member.linkname!r}): links "
                    "are refused, they could point the grader at any file on the machine"
                )
            if member.isdir():
                writer.folder(path)
                continue
            if not member.isfile():
                raise ArchiveRefused(
                    f"the archive holds {member.name!r}, which is neither a file nor a folder "
                    "(a device or a pipe): refused"
                )
            writer.check_size(member.name, member.size, None)
            writer.check_total(writer.total + member.size, "declares")
            source = tf.extractfile(member)
            assert source is not None  # a regular file always has data
            writer.write(path, source, None)


# --- writing inside the target ------------------------------------------------------------------


class _Writer:
    """Checks names and sizes against the limits and writes files inside the target."""

    def __init__(self, target: Path, limits: IntakeLimits, packed: int) -> None:
        self.target = target
        self.limits = limits
        self.packed = packed
        self.total = 0
        self.files: list[str] = []
        self.junk: list[str] = []
        self.seen: set[str] = set()

    def count(self, entries: int) -> None:
        if entries > self.limits.max_files:
            raise ArchiveRefused(
                f"the archive holds more than {self.limits.max_files} entries: refused "
                "(a candidate's project is tens of files)"
            )

    def check_name(self, name: str) -> PurePosixPath | None:
        """The member's safe relative path; None for archiver junk; refuses the rest."""
        if "\x00" in name:
            raise ArchiveRefused(f"the archive holds a member name with a NUL byte ({name!r})")
        text = name.replace("\\", "/")
        if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
            raise ArchiveRefused(
                f"the archive holds an absolute path ({name!r}): it would be written outside "
                "its folder; refused, nothing of it is graded"
            )
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise ArchiveRefused(
                f"the archive holds a path that leaves its folder ({name!r}, with '..'): "
                'refused, nothing of it is graded (a "zip-slip" archive)'
            )
        if not parts:
            return None  # the archive's root itself
        if any(p in JUNK or p.startswith("._") for p in parts):
            if text not in self.junk:
                self.junk.append(text)
            return None
        if len(parts) > self.limits.max_depth:
            raise ArchiveRefused(
                f"the archive nests folders {len(parts)} deep ({name!r}), more than the "
                f"{self.limits.max_depth} allowed"
            )
        return PurePosixPath(*parts)

    def check_size(self, name: str, size: int, packed: int | None) -> None:
        if packed is not None and size > 1024**2 and size > self.limits.max_ratio * max(packed, 1):
            raise ArchiveRefused(
                f"{name!r} is compressed {size / max(packed, 1):.0f} to 1 ({_mb(size)} from "
                f"{_mb(packed)}), beyond the {self.limits.max_ratio:.0f} to 1 any source or "
                "notebook reaches: a zip bomb; refused, nothing unpacked"
            )
        if size > self.limits.max_file_bytes:
            raise ArchiveRefused(
                f"{name!r} unpacks to {_mb(size)}, above the {_mb(self.limits.max_file_bytes)} "
                "limit for one file: refused"
            )

    def check_total(self, total: int, verb: str) -> None:
        if total > self.limits.max_unpacked_bytes:
            raise ArchiveRefused(
                f"the archive {verb} {_mb(total)} of content, above the "
                f"{_mb(self.limits.max_unpacked_bytes)} limit: refused (a zip bomb, or data "
                "that is not part of the answer)"
            )
        if total > 1024**2 and total > self.limits.max_ratio * self.packed:
            raise ArchiveRefused(
                f"the archive {verb} {_mb(total)} from {_mb(self.packed)} (compressed "
                f"{total / self.packed:.0f} to 1, beyond the {self.limits.max_ratio:.0f} to 1 "
                "any source or notebook reaches): a zip bomb; refused"
            )

    def folder(self, path: PurePosixPath) -> None:
        where = self._inside(path)
        where.mkdir(parents=True, exist_ok=True)

    def write(self, path: PurePosixPath, source: IO[bytes], packed: int | None) -> None:
        key = str(path)
        if key in self.seen:
            raise ArchiveRefused(f"the archive holds {key!r} twice: refused")
        self.seen.add(key)
        where = self._inside(path)
        where.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with _create(where) as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                self.total += len(chunk)
                if written > self.limits.max_file_bytes:
                    self.check_size(key, written, None)
                self.check_total(self.total, "unpacks to")
                out.write(chunk)
        if packed is not None:
            self.check_size(key, written, packed)
        self.files.append(key)

    def _inside(self, path: PurePosixPath) -> Path:
        """The file's place under the target; a belt to the braces of `check_name`."""
        where = self.target.joinpath(*path.parts)
        root = os.path.realpath(self.target)
        if not os.path.realpath(where).startswith(root + os.sep):
            raise ArchiveRefused(f"{str(path)!r} would be written outside the archive's folder")
        return where


@contextmanager
def _create(path: Path) -> Iterator[IO[bytes]]:
    """A new file opened for writing: never follows a link, never replaces a file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "wb") as handle:
        yield handle


def _mb(size: float) -> str:
    return f"{size / 1024**2:.1f} MB" if size >= 100 * 1024 else f"{size / 1024:.0f} KB"


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
