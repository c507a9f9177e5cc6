"""Prefect flows and the command line: they compose the stages in `tasks/` and own settings."""

import os

# Prefect's server otherwise tries to reach an outside analytics host (and, on a first
# run, that caused "database is locked" errors): off unless the user says otherwise.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The first run migrates Prefect's SQLite database: ~17 s on a 2-core machine, close to
# the default 20 s start-up limit of the temporary local server.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
