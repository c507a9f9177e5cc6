#!/usr/bin/env bash
# Set up and build today's digest from the bundled sample dispatches into ./digests/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/digest run "$@"
