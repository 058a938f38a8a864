#!/usr/bin/env bash
# The test command: the whole suite, fast and slow tests, with a summary line. The whole
# corpora (marker `corpus`, about 40 minutes) run with `make test-corpus` instead: tests/
# conftest.py deselects them unless the marker expression asks for `corpus`.
set -uo pipefail
py=.venv/bin/python
# Two workers (pytest-xdist): most slow tests keep one core busy. tests/conftest.py keeps each
# file on one worker (its shared grading runs once) except the catalogue battery's entries and
# the training tests, which spread over both.
$py -m pytest -q -p no:cacheprovider -m "not corpus" -n 2 --dist loadgroup "$@"
rc=$?
# pytest exits 5 when it collected no test: that is a failure here, never a pass.
if [ $rc -eq 5 ]; then echo "test: no tests ran" >&2; exit 1; fi
exit $rc
