#!/usr/bin/env bash
# The main job: grade the example submissions and the seeds in ../shared (when present)
# and write the reports.
set -euo pipefail
out="${1:-out}"; shared="${2:-../shared}"
py=.venv/bin/python
$py -m reference.demo
