#!/usr/bin/env bash
# Install the harness checked out in $1 into a virtual environment at $2 (a GitHub runner).
# Used by every job of ci/grade-candidates.yml that runs the grader.
#   - the CPU build of torch: the CUDA one is 5 GB and the runner has no GPU;
#   - editable, so reference/ stays outside the environment the sandbox can read;
#   - the environment under /opt (not the runner's home), so the sandbox's unprivileged user
#     can reach the interpreter.
set -euo pipefail
harness="$1"
venv="$2"
sudo install -d -o "$(id -u)" -g "$(id -g)" "$venv"
python -m venv "$venv"
"$venv/bin/pip" install --quiet --index-url https://download.pytorch.org/whl/cpu torch==2.3.1
"$venv/bin/pip" install --quiet -e "$harness"
"$venv/bin/grader" --version
