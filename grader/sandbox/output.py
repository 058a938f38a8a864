"""The candidate's stdout and stderr, kept within a byte budget for the report.

A submission may print a training log, a stack of warnings, or a gigabyte on purpose. The
grader drains the pipes (so the worker never blocks on a full pipe) but keeps only the
first half of the budget and the last half: the beginning shows what went wrong first, the
end what happened last; the middle is counted and dropped.
"""

from __future__ import annotations

from collections import deque


class CappedOutput:
    """One stream's bytes: a head, a tail and the count of everything seen."""

    def __init__(self, max_bytes: int) -> None:
        self.head_limit = max_bytes // 2
        self.tail_limit = max_bytes - self.head_limit
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0
        """Bytes received so far, kept or not: positions (marks) count in these."""

    def append(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail.append(bytes(data))
        self.tail_size += len(data)
        while self.tail_size > self.tail_limit:
            excess = self.tail_size - self.tail_limit
            first = self.tail[0]
            if len(first) <= excess:
                self.tail.popleft()
                self.tail_size -= len(first)
            else:
                self.tail[0] = first[excess:]
                self.tail_size -= excess

    def text(self, since: int = 0) -> str:
        """What was received from byte position ``since`` on, with a marker where bytes were
        dropped."""
        tail = b"".join(self.tail)
        tail_start = self.total - self.tail_size
        head_part = bytes(self.head[since:]) if since < len(self.head) else b""
        gap_start = max(since, len(self.head))
        if gap_start < tail_start:
            dropped = tail_start - gap_start
            middle = f"\n[... {dropped} bytes of output dropped ...]\n".encode()
            tail_part = tail
        else:
            middle = b""
            tail_part = tail[gap_start - tail_start :]
        return (head_part + middle + tail_part).decode("utf-8", "replace")

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - self.tail_size
