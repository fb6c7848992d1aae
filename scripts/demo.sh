#!/usr/bin/env bash
# From a fresh clone to the running demo: install, load the demo roster into the configured database
# (default: SQLite at data/klinik.db), open `klinik chat`. Run again any time: the demo import is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/klinik demo
exec .venv/bin/klinik chat "$@"
