"""What lets a batch reuse a finished result: the fingerprint of the grader's own code."""

from __future__ import annotations

from pathlib import Path

from grader.batch import BATCH_OUTPUTS, code_digest, unique_names


def test_the_code_digest_follows_every_source_and_template(tmp_path: Path) -> None:
    """A rerun after the grader changed must not reuse a verdict the old code gave."""
    for name in ("grader/checks/a.py", "reference/b.py", "templates/c.html.j2"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    first = code_digest(tmp_path)
    assert code_digest(tmp_path) == first  # stable
    seen = {first}
    for name in ("grader/checks/a.py", "reference/b.py", "templates/c.html.j2"):
        (tmp_path / name).write_text("x = 2\n", encoding="utf-8")
        seen.add(code_digest(tmp_path))
    assert len(seen) == 4  # each change gave a new digest
    (tmp_path / "notes.txt").write_text("not code", encoding="utf-8")
    assert code_digest(tmp_path) in seen  # other files do not count


def test_no_submission_folder_is_named_like_a_batch_output_or_another_submission() -> None:
    """``summary.json.py`` once got the folder ``summary.json`` and the batch ended with
    IsADirectoryError, without an index."""
    paths = [
        Path("a/summary.json.py"),
        Path("b/index.html.ipynb"),
        Path("c/INDEX.HTML.py"),  # the same name on a case-insensitive file system
        Path("d/grader.lock.py"),
        Path("e/.grader.lock.py"),
        Path("f/typical.py"),
        Path("g/Typical.ipynb"),
        Path("h/typical-2.py"),
    ]
    names = unique_names(paths)
    assert len({n.casefold() for n in names}) == len(paths)
    assert not {n.casefold() for n in names} & {o.casefold() for o in BATCH_OUTPUTS}
    assert names[:2] == ["summary.json-2", "index.html-2"]
    assert names[5:] == ["typical", "Typical-2", "typical-2-2"]
    assert unique_names(paths) == names  # stable: a rerun finds its results again
