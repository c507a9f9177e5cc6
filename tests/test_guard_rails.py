"""The guard rails CI runs with the tests: ruff's lint and format over the project, mypy strict on tasks/
(both configured in pyproject.toml). A failure prints what the tool said."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def _run(*command: str) -> None:
    tool = BIN / command[0]
    if not tool.exists():
        pytest.fail(f"{command[0]} is not installed: bash scripts/setup.sh test installs it")
    done = subprocess.run([str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_finds_nothing_to_lint():
    _run("ruff", "check", "--no-cache", ".")


def test_the_code_is_formatted_as_ruff_formats_it():
    _run("ruff", "format", "--no-cache", "--check", ".")


@pytest.mark.slow  # ~20 s without its cache
def test_mypy_strict_finds_nothing_in_tasks():
    _run("mypy")
