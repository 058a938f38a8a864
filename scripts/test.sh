#!/usr/bin/env bash
# The test command: the whole suite, fast and slow tests, with a summary line.
set -uo pipefail
py=.venv/bin/python
$py -m pytest -q -p no:cacheprovider "$@"
rc=$?
# pytest exits 5 when it collected no test: that is a failure here, never a pass.
if [ $rc -eq 5 ]; then echo "test: no tests ran" >&2; exit 1; fi
exit $rc
