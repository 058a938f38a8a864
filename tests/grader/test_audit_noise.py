"""Which refused actions the report shows: the candidate's, not the libraries' import noise."""

from __future__ import annotations

import pytest

from grader.pipeline import import_noise


@pytest.mark.parametrize(
    "event",
    [
        "os.mkdir (/venv/lib/python3.11/site-packages/torchtext/__pycache__)",
        "socket.__new__ (AF_INET6)",
    ],
)
def test_what_importing_libraries_always_does_is_not_shown(event: str) -> None:
    assert import_noise(event)


@pytest.mark.parametrize(
    "event",
    [
        "open (/work/main/PWNED)",
        "os.remove (/worker/recorder.py)",
        "socket.getaddrinfo (127.0.0.1)",
        "socket.__new__ (AF_INET)",
        "os.fork",
    ],
)
def test_what_the_candidate_tried_is_shown(event: str) -> None:
    assert not import_noise(event)
