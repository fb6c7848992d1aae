#!/usr/bin/env bash
# Creates .venv and installs the project (with test tools when given "test"). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
target="."
[ "${1:-}" = "test" ] && target=".[test]"
echo "Installing Klinik Bisnis into .venv (log: .venv/install.log)…"
if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -c constraints.txt -e "$target"; } > .venv/install.log 2>&1; then
  tail -30 .venv/install.log
  echo "Installation failed; see .venv/install.log" >&2
  exit 1
fi
