#!/usr/bin/env bash
# The main job: grade the example submissions and the seeds in ../shared (when present) and
# write the reports, one folder per assignment.
set -euo pipefail
out="${1:-out}"; shared="${2:-../shared}"

# The transformer language-model test: the example submissions and seed 004 in both formats.
paths=(submissions/)
for seed in "$shared"/seeds/004_*.ipynb "$shared"/seeds/004_*.txt; do
  [ -f "$seed" ] && paths+=("$seed")
done
.venv/bin/grader grade "${paths[@]}" --assignment transformer_lm --out "$out/transformer_lm" --jobs 2

# The positional-encoding test: seed 000, a Markdown answer.
seeds=()
for seed in "$shared"/seeds/000_*.txt; do
  [ -f "$seed" ] && seeds+=("$seed")
done
if [ ${#seeds[@]} -gt 0 ]; then
  .venv/bin/grader grade "${seeds[@]}" --assignment positional_encoding --out "$out/positional_encoding" --jobs 2
fi
# An interviewer's own test, added as a folder only: its example submissions.
.venv/bin/grader grade examples/layernorm_mlp/submissions --assignment examples/layernorm_mlp --out "$out/layernorm_mlp" --jobs 2

echo "reports: $out/transformer_lm/index.html, $out/layernorm_mlp/index.html${seeds:+ and $out/positional_encoding/}"
