"""What lets a batch reuse a finished result: the fingerprint of the grader's own code."""

from __future__ import annotations

from pathlib import Path

from grader.batch import code_digest


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
