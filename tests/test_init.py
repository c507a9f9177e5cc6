"""`digest init`: a starter configuration that parses, passes `digest check`, and is never overwritten by accident."""

import re
import tomllib

import pytest
from typer.testing import CliRunner

from flows.check import check_config
from flows.cli import app
from flows.settings import load_settings

runner = CliRunner()
FEED_LINE = re.compile(r"^# (\[\[sources\]\]|name = |kind = \"feed\"|url = |window_days = |max_items = )", re.MULTILINE)


def test_init_writes_a_config_that_parses_and_passes_check(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "desk")])
    assert result.exit_code == 0, result.output
    config = tmp_path / "desk" / "config" / "digest.toml"
    text = config.read_text(encoding="utf-8")
    tomllib.loads(text)
    assert check_config(config, offline=False) == []
    settings = load_settings(config)
    assert [s.name for s in settings.sources] == ["samples"]
    assert sorted(p.name for p in settings.sources[0].path.iterdir())  # the samples came along
    assert (settings.schedules[0].cron, settings.schedules[0].timezone) == ("0 6 * * *", "Europe/Paris")
    for outlet in ("Le Monde", "France 24", "BBC", "The Guardian"):
        assert f'# name = "{outlet}' in text


def test_the_commented_feeds_are_valid_once_uncommented(tmp_path):
    runner.invoke(app, ["init", str(tmp_path)])
    config = tmp_path / "config" / "digest.toml"
    config.write_text(FEED_LINE.sub(r"\1", config.read_text(encoding="utf-8")), encoding="utf-8")
    assert check_config(config, offline=True) == []
    names = [s.name for s in load_settings(config).sources]
    assert names == ["samples", "Le Monde", "France 24", "BBC News", "The Guardian"]


def test_init_refuses_to_overwrite_unless_forced(tmp_path):
    config = tmp_path / "config" / "digest.toml"
    config.parent.mkdir()
    config.write_text("# mine\n")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 1 and "--force" in result.stderr
    assert config.read_text() == "# mine\n"
    result = runner.invoke(app, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert check_config(config) == []


def _project_copy(tmp_path):
    """The project's set-up files in `tmp_path`, with a `.venv` of its own that borrows the installed
    dependencies (and pip, setuptools) from this .venv through a .pth file: no index, no download."""
    import shutil
    import subprocess
    import sys
    import sysconfig

    from tests.conftest import ROOT

    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    for name in ("flows", "tasks", "scripts"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(copy / ".venv")], check=True)
    site = next((copy / ".venv" / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return copy, site


@pytest.mark.slow  # pip and a wheel build in subprocesses
def test_setup_installs_cleanly_once_and_again_only_when_pyproject_changes(tmp_path):
    import os
    import subprocess

    copy, site = _project_copy(tmp_path)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}  # "0": pip's spelling of "no isolation"

    def setup() -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "scripts/setup.sh"], cwd=copy, env=env, capture_output=True, text=True, timeout=300
        )

    first = setup()
    assert first.returncode == 0, first.stderr
    assert (first.stdout, first.stderr) == ("", "")  # no setuptools warning (licence table, package data, editable)
    record = site / "dispatch_digest-0.1.0.dist-info" / "RECORD"
    installed = record.stat().st_mtime_ns
    assert (copy / ".venv" / "bin" / "digest").exists()
    again = setup()
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert record.stat().st_mtime_ns == installed  # pip did not run
    with (copy / "pyproject.toml").open("a") as pyproject:
        pyproject.write("# a change\n")
    assert setup().returncode == 0
    assert record.stat().st_mtime_ns != installed


@pytest.mark.slow  # pip and a wheel build in subprocesses
def test_the_wheel_holds_the_templates(tmp_path):
    import subprocess
    import sys
    import zipfile

    copy, _ = _project_copy(tmp_path)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(copy),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (build.returncode, build.stderr) == (0, ""), build.stderr
    names = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).namelist()
    assert {"tasks/templates/starter.toml", "tasks/templates/digest.md.j2", "tasks/templates/digest.html.j2"} <= set(
        names
    )
