"""The capped output buffer: keeps the head and the tail, counts what it drops."""

from __future__ import annotations

from grader.sandbox.output import CappedOutput


def test_small_output_is_kept_whole() -> None:
    out = CappedOutput(100)
    out.append(b"epoch 1 loss 5.1\n")
    out.append(b"epoch 2 loss 4.7\n")
    assert out.text() == "epoch 1 loss 5.1\nepoch 2 loss 4.7\n"
    assert out.dropped == 0


def test_flood_keeps_head_and_tail_within_budget() -> None:
    out = CappedOutput(1000)
    out.append(b"FIRST LINE\n")
    for _ in range(10_000):
        out.append(b"x" * 99 + b"\n")
    out.append(b"LAST LINE\n")
    text = out.text()
    assert text.startswith("FIRST LINE\n")
    assert text.endswith("LAST LINE\n")
    assert out.total == 11 + 1_000_000 + 10
    assert out.dropped == out.total - 1000
    assert f"[... {out.dropped} bytes of output dropped ...]" in text
    assert len(text.encode()) < 1000 + 100


def test_text_since_a_mark_returns_only_what_came_after() -> None:
    out = CappedOutput(100)
    out.append(b"load output\n")
    mark = out.total
    out.append(b"call output\n")
    assert out.text(mark) == "call output\n"


def test_text_since_a_mark_inside_the_dropped_middle_says_so() -> None:
    out = CappedOutput(10)
    out.append(b"a" * 50)
    mark = out.total - 20  # the middle, long gone
    assert out.text(mark) == "\n[... 15 bytes of output dropped ...]\n" + "a" * 5


def test_invalid_utf8_is_replaced_not_raised() -> None:
    out = CappedOutput(100)
    out.append(b"caf\xc3")
    out.append(b"\xff\n")
    assert out.text() == "caf\ufffd\ufffd\n"
