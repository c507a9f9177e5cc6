#!/usr/bin/env bash
# Set up what the tests need and run them. Extra arguments go to pytest.
# When it can (PostgreSQL installed, or root with apt-get), it starts a throw-away
# PostgreSQL on 127.0.0.1 so the store's tests also run on it, and stops it at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if [ -z "${DIGEST_TEST_POSTGRES_URL:-}" ] && pg=$(bash scripts/postgres.sh 2>/dev/null); then
  read -r pg_dir DIGEST_TEST_POSTGRES_URL <<<"$pg"
  export DIGEST_TEST_POSTGRES_URL
  trap 'bash scripts/postgres.sh stop "$pg_dir"' EXIT
else
  echo "PostgreSQL not started: the store's PostgreSQL tests will be skipped" >&2
fi
.venv/bin/python -m pytest "$@"
