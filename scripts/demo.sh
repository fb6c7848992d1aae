#!/usr/bin/env bash
# From a fresh clone to the running demo: install, load the demo roster into SQLite, open `klinik chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export KLINIK_DATABASE_URL="${KLINIK_DATABASE_URL:-sqlite+aiosqlite:///data/demo.db}"
.venv/bin/klinik demo
exec .venv/bin/klinik chat "$@"
