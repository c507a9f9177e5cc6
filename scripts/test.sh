#!/usr/bin/env bash
# Set up what the tests need and run them. Extra arguments go to pytest:
#   bash scripts/test.sh                 everything (what .ci/run runs)
#   bash scripts/test.sh -m "not slow"   the quick subset: no Prefect server, Dask cluster, worker processes,
#                                        Chromium, subprocess CLIs, store races or long Hypothesis runs
# As root with apt-get, it installs the system packages some tests use (Debian's
# chromium for the UI test, docker-compose to check docker-compose.yml, postgresql),
# then starts a throw-away PostgreSQL on 127.0.0.1 and stops it at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
if [ -z "${DIGEST_TEST_POSTGRES_URL:-}" ] && pg=$(bash scripts/postgres.sh); then
  read -r pg_dir DIGEST_TEST_POSTGRES_URL <<<"$pg"
  export DIGEST_TEST_POSTGRES_URL
  trap 'bash scripts/postgres.sh stop "$pg_dir"' EXIT
else
  echo "PostgreSQL not started: the store's PostgreSQL tests will be skipped" >&2
fi
.venv/bin/python -m pytest "$@"
