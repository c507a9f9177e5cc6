#!/usr/bin/env bash
# Create .venv (once), upgrade pip in it (the system pip 23.2 fails to resolve
# trafilatura's lxml extras), and install the project with the given extras.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --editable ".${extras:+[$extras]}"
