#!/usr/bin/env bash
# The main job: grade the example submissions and the seeds in ../shared (when present)
# and write the reports.
set -euo pipefail
out="${1:-out}"; shared="${2:-../shared}"
paths=(submissions/)
for seed in "$shared"/seeds/004_*.ipynb "$shared"/seeds/004_*.txt; do
  [ -f "$seed" ] && paths+=("$seed")
done
.venv/bin/grader grade "${paths[@]}" --assignment transformer_lm --out "$out" --jobs 2
