"""Which lines of a criterion's evidence the scorecard's card shows first (issue 17).

A criterion's evidence lists every point gained or lost, and also how it was measured: the
method ("timed in alternating rounds ..."), every timing with its IQR, the checks that
passed, and the "-0:" lines of rules that found nothing. All of it stays on the page, in a
details section under the card; the card itself shows the lines that moved the score:
points taken off, credit short of the full weight, failing or erroring checks, the band a
timing landed in, a share or a cap applied. A card with none says that nothing cost points.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_POINTS_OFF = re.compile(r"^-(\d+(?:\.\d+)?)\b")
"""``-10: opt.head-loop ...``: points taken off (``-0`` took nothing)."""
_CREDIT = re.compile(r"— (\d+(?:\.\d+)?) of (\d+(?:\.\d+)?)\s*$")
"""``... — 1.50 of 2``: credit earned of the item's weight."""
_CHECK_STATUS = re.compile(r"^[\w.:-]+: (fail|error)\b")
"""``attention.cross_lengths: fail — ...``: a check that did not pass."""
_MOVES = ("band score", "counts for that share", "Capped", "could be timed")
"""Phrases of the lines that say how a score was set from the measurements."""


def moved_the_score(line: str) -> bool:
    """Whether an evidence line states something that changed the criterion's score."""
    if "not counted" in line:
        return False  # inherited from the handout: shown in the details
    off = _POINTS_OFF.match(line)
    if off:
        return float(off.group(1)) > 0
    credit = _CREDIT.search(line)
    if credit:
        return float(credit.group(1)) < float(credit.group(2))
    if _CHECK_STATUS.match(line):
        return True
    return any(phrase in line for phrase in _MOVES)


def key_lines(evidence: Sequence[str]) -> tuple[str, ...]:
    """The lines of ``evidence`` the card shows (the rest is under "method and details")."""
    return tuple(line for line in evidence if moved_the_score(line))
