#!/usr/bin/env bash
# Start a throw-away PostgreSQL on 127.0.0.1 for the tests and print its URL; `stop DIR` stops it.
# Needs Debian's postgresql package (scripts/test.sh installs it as root) and root, to run it as `postgres`.
set -euo pipefail
if [ "${1:-}" = "stop" ]; then
  runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_ctl" -D "$2/data" -m fast stop >/dev/null
  rm -rf "$2"
  exit 0
fi
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || { echo "postgresql is not installed" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "starting PostgreSQL here needs root (to run it as postgres)" >&2; exit 1; }
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/digest-pg.XXXXXX)
chown postgres "$dir"
port=${DIGEST_TEST_POSTGRES_PORT:-54329}
runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
echo "$dir postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
