"""The archive unpacker (`grader.intake.archive`): real zip and tar files built here, hostile
ones included; nothing may land outside the target folder, and every refusal says why."""

from __future__ import annotations

import io
import random
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.config import IntakeLimits
from grader.intake.archive import ArchiveRefused, archive_stem, is_archive, unpack

NOTEBOOK = b'{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}'


def make_zip(path: Path, members: dict[str, bytes], **options: object) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, **options) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    mode = "w:gz" if path.name.endswith("gz") else "w"
    with tarfile.open(path, mode) as tf:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tf.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def target(tmp_path: Path) -> Path:
    folder = tmp_path / "sandbox" / "target"
    folder.mkdir(parents=True)
    return folder


def everything_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_a_zipped_folder_unpacks_with_its_layout(tmp_path: Path, target: Path) -> None:
    archive = make_zip(
        tmp_path / "alice.zip",
        {"alice/solution.ipynb": NOTEBOOK, "alice/src/helpers.py": b"X = 1\n"},
    )
    unpacked = unpack(archive, target, IntakeLimits())
    assert set(unpacked.files) == {"alice/solution.ipynb", "alice/src/helpers.py"}
    assert (target / "alice" / "src" / "helpers.py").read_bytes() == b"X = 1\n"
    assert unpacked.total_bytes == len(NOTEBOOK) + 6


@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".tar"])
def test_tar_archives_unpack_too(tmp_path: Path, target: Path, suffix: str) -> None:
    archive = make_tar(tmp_path / f"bob{suffix}", [("bob/main.py", b"def f():\n    return 1\n")])
    assert unpack(archive, target, IntakeLimits()).files == ("bob/main.py",)
    assert (target / "bob" / "main.py").is_file()


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("../evil.py", "leaves its folder"),
        ("alice/../../evil.py", "leaves its folder"),
        ("..\\..\\evil.py", "leaves its folder"),
        ("/tmp/evil.py", "absolute path"),
        ("C:\\evil.py", "absolute path"),
    ],
)
def test_a_path_out_of_the_target_refuses_the_whole_zip(
    tmp_path: Path, target: Path, name: str, said: str
) -> None:
    before = everything_under(tmp_path)
    archive = make_zip(tmp_path / "slip.zip", {"ok.py": b"X = 1\n", name: b"import os\n"})
    with pytest.raises(ArchiveRefused, match=said):
        unpack(archive, target, IntakeLimits())
    assert everything_under(tmp_path) == before | {"slip.zip"}  # nothing written anywhere
    assert not any(target.iterdir())


def test_a_path_out_of_the_target_refuses_a_tar(tmp_path: Path, target: Path) -> None:
    archive = make_tar(tmp_path / "slip.tar.gz", [("../../evil.py", b"x")])
    with pytest.raises(ArchiveRefused, match="leaves its folder"):
        unpack(archive, target, IntakeLimits())
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "sandbox" / "evil.py").exists()


def test_a_symlink_in_a_zip_is_refused(tmp_path: Path, target: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("alice/secrets")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveRefused, match="symbolic link"):
        unpack(archive, target, IntakeLimits())
    assert not any(target.rglob("*"))


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_links_in_a_tar_are_refused(tmp_path: Path, target: Path, kind: bytes) -> None:
    link = tarfile.TarInfo("bob/passwd")
    link.type, link.linkname = kind, "/etc/passwd"
    archive = make_tar(tmp_path / "link.tar.gz", [link])
    with pytest.raises(ArchiveRefused, match="link"):
        unpack(archive, target, IntakeLimits())


def test_a_device_in_a_tar_is_refused(tmp_path: Path, target: Path) -> None:
    fifo = tarfile.TarInfo("bob/pipe")
    fifo.type = tarfile.FIFOTYPE
    archive = make_tar(tmp_path / "fifo.tar", [fifo])
    with pytest.raises(ArchiveRefused, match="neither a file nor a folder"):
        unpack(archive, target, IntakeLimits())


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path, target: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("bomb.txt", "w") as member,  # 64 MB of zeros, about 64 KB packed
    ):
        for _ in range(64):
            member.write(bytes(1024**2))
    assert archive.stat().st_size < 1024**2
    with pytest.raises(ArchiveRefused, match="zip bomb") as refused:
        unpack(archive, target, IntakeLimits())
    assert "to 1" in str(refused.value)  # the ratio, in words
    assert not any(target.iterdir())


def test_a_gzip_bomb_in_a_tar_is_refused_from_its_header(tmp_path: Path, target: Path) -> None:
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo("bomb.bin")
        info.size = 64 * 1024**2
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    limits = IntakeLimits(max_file_bytes=128 * 1024**2, max_unpacked_bytes=1024**3)
    with pytest.raises(ArchiveRefused, match="zip bomb"):
        unpack(archive, target, limits)
    assert not any(target.rglob("*.bin"))


def test_the_unpacked_size_is_counted_not_believed(tmp_path: Path, target: Path) -> None:
    archive = make_zip(
        tmp_path / "big.zip", {f"f{i}.py": bytes(range(256)) * 400 for i in range(4)}
    )
    limits = IntakeLimits(max_unpacked_bytes=250_000, max_ratio=1e9)
    with pytest.raises(ArchiveRefused, match="above the"):
        unpack(archive, target, limits)


def test_too_many_files_are_refused(tmp_path: Path, target: Path) -> None:
    archive = make_zip(tmp_path / "many.zip", {f"f{i}.py": b"" for i in range(30)})
    with pytest.raises(ArchiveRefused, match="more than 20 entries"):
        unpack(archive, target, IntakeLimits(max_files=20))


def test_an_archive_too_large_is_not_even_opened(tmp_path: Path, target: Path) -> None:
    noise = random.Random(0).randbytes(200_000)  # incompressible
    archive = make_zip(tmp_path / "large.zip", {"data.bin": noise})
    with pytest.raises(ArchiveRefused, match="was not opened"):
        unpack(archive, target, IntakeLimits(max_archive_bytes=100_000))


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"PK\x03\x04 not really a zip", "fake.zip"), (b"\x1f\x8b\x08 truncated", "cut.tar.gz")],
)
def test_a_damaged_archive_is_refused_with_what_was_wrong(
    tmp_path: Path, target: Path, content: bytes, name: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ArchiveRefused, match="damaged"):
        unpack(tmp_path / name, target, IntakeLimits())


def test_a_truncated_zip_member_is_refused(tmp_path: Path, target: Path) -> None:
    archive = make_zip(tmp_path / "ok.zip", {"main.py": b"print('x')\n" * 2000})
    data = bytearray(archive.read_bytes())
    data[60:80] = bytes(20)  # inside the compressed member
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveRefused, match="damaged"):
        unpack(archive, target, IntakeLimits())


def test_a_name_twice_is_refused(tmp_path: Path, target: Path) -> None:
    archive = make_tar(tmp_path / "twice.tar", [("a.py", b"X = 1\n"), ("a.py", b"X = 2\n")])
    with pytest.raises(ArchiveRefused, match="twice"):
        unpack(archive, target, IntakeLimits())


def test_archiver_junk_is_left_out(tmp_path: Path, target: Path) -> None:
    archive = make_zip(
        tmp_path / "mac.zip",
        {"a/main.py": b"X = 1\n", "__MACOSX/a/._main.py": b"\x00\x05", "a/.DS_Store": b"\x00"},
    )
    unpacked = unpack(archive, target, IntakeLimits())
    assert unpacked.files == ("a/main.py",)
    assert len(unpacked.left_out) == 2
    assert everything_under(target) == {"a", "a/main.py"}


def test_deep_nesting_is_refused(tmp_path: Path, target: Path) -> None:
    archive = make_zip(tmp_path / "deep.zip", {"/".join(["d"] * 20) + "/x.py": b""})
    with pytest.raises(ArchiveRefused, match="deep"):
        unpack(archive, target, IntakeLimits(max_depth=8))


def test_archive_names() -> None:
    assert [is_archive(Path(n)) for n in ("a.zip", "a.TAR.GZ", "a.tgz", "a.py", "a.gz")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert archive_stem("alice.tar.gz") == "alice" and archive_stem("Bob.ZIP") == "Bob"
