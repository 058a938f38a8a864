"""Where a path really is (grader/paths.py): symlinks out of a submission folder."""

from __future__ import annotations

from pathlib import Path

from grader.paths import escape_reason, given_in, inside


def test_inside_follows_every_symlink(tmp_path: Path) -> None:
    (tmp_path / "cand").mkdir()
    (tmp_path / "secret.txt").write_text("token")
    (tmp_path / "cand" / "ok.py").write_text("x = 1")
    (tmp_path / "cand" / "out.py").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "cand" / "alias.py").symlink_to("ok.py")
    (tmp_path / "cand" / "up").symlink_to(tmp_path)
    root = tmp_path / "cand"
    assert inside(root / "ok.py", root) and inside(root / "alias.py", root)
    assert not inside(root / "out.py", root)
    assert not inside(root / "up" / "secret.txt", root)  # a folder link, then a plain name
    assert not inside(tmp_path / "cand-other", root)  # a sibling whose name starts the same
    reason = escape_reason(root / "out.py", root)
    assert str((tmp_path / "secret.txt").resolve()) in reason and "symbolic link" in reason
    assert escape_reason(root / "alias.py", root) == ""


def test_the_folder_a_path_was_given_in(tmp_path: Path) -> None:
    (tmp_path / "cand").mkdir()
    assert given_in(str(tmp_path / "cand")) == tmp_path / "cand"
    assert given_in(str(tmp_path / "cand" / "a.py")) == tmp_path / "cand"
    assert given_in(str(tmp_path / "cand" / "*" / "*.ipynb")) == tmp_path / "cand"
    assert given_in("*.py") == Path(".")
