#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine: system packages
# (bubblewrap for the sandbox, Chromium for the page tests), uv, and the virtual
# environment with the pinned Python packages. Safe to run again: each step checks first.
set -euo pipefail
venv="${1:-.venv}"
start=$(date +%s)

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# jq: the CI workflow (ci/grade-candidates.yml) reads its matrix with it, and its test runs it here.
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing system packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: WARNING: not root, cannot install ${need_apt[*]}; the sandbox or the page tests will be degraded" >&2
  fi
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv"
  python3 -m pip install -q uv
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  uv venv -q -p python3.11 "$venv"
fi
echo "setup: installing the project into $venv (torch 2.3.1 is ~5 GB on a cold cache)"
VIRTUAL_ENV="$venv" uv pip install -q -e ".[test]"
echo "setup: done in $(( $(date +%s) - start )) s"
