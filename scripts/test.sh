#!/usr/bin/env bash
# The test command: the whole suite, fast and slow tests, with a summary line. The whole
# corpora (marker `corpus`, about 40 minutes) run with `make test-corpus` instead: tests/
# conftest.py deselects them unless the marker expression asks for `corpus`.
set -uo pipefail
py=.venv/bin/python
# Two test files at a time (pytest-xdist; a whole file on one worker, so a module's shared
# grading runs once): most slow tests keep one core busy and leave the other idle.
$py -m pytest -q -p no:cacheprovider -m "not corpus" -n 2 --dist loadfile "$@"
rc=$?
# pytest exits 5 when it collected no test: that is a failure here, never a pass.
if [ $rc -eq 5 ]; then echo "test: no tests ran" >&2; exit 1; fi
exit $rc
