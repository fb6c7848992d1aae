#!/usr/bin/env bash
# Installs everything the tests need (Python packages, the npm peers, PostgreSQL and Chromium if absent) and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "PostgreSQL server binaries missing: installing them (apt-get)."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if ! command -v soffice >/dev/null 2>&1; then
  echo "LibreOffice missing: installing libreoffice-calc-nogui (apt-get) to check that the workbooks open."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui >/dev/null
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "Chromium or chromedriver missing (the console's browser tests): installing them (apt-get)."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
bash tests/e2e/fetch-twilio-spec.sh
.venv/bin/ruff check bot handlers storage scheduler tests
.venv/bin/python -m pytest --postgres -n 2 -p no:cacheprovider "$@"
