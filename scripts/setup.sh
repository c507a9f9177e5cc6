#!/usr/bin/env bash
# Create .venv (once), upgrade pip in it (the system pip 23.2 fails to resolve
# trafilatura's lxml extras), and install the project with the given extras.
# The install is skipped when .venv already holds it for this pyproject.toml: a stamp
# (the file's SHA-256, one per set of extras) is written after each successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
stamp=".venv/.installed${extras:+-$extras}"
wanted="$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
if [ -x .venv/bin/digest ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --editable ".${extras:+[$extras]}"
echo "$wanted" > "$stamp"
# The extras include the base install.
[ -z "$extras" ] || echo "$wanted" > .venv/.installed
