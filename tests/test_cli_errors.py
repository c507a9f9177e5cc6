"""`digest run` shows a DigestError as one line and a bug as the bug it is: the exception, not swallowed."""

import sys
import types
from contextlib import nullcontext

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks.errors import DigestError, OutputError
from tasks.store import StoreBusy

runner = CliRunner()


def _run_raising(monkeypatch, tmp_path, error: BaseException, *options: str):
    """`digest run --quiet` whose flow raises `error` (no Prefect API, no flow: both stand-ins)."""
    import flows.cli
    import flows.prefect_api

    def run_daily_digest(**parameters):
        raise error

    api = flows.prefect_api.PrefectApi("http://127.0.0.1:9/api", "stand-in")  # no temporary server to start
    monkeypatch.setitem(sys.modules, "flows.daily_digest", types.SimpleNamespace(run_daily_digest=run_daily_digest))
    monkeypatch.setitem(
        sys.modules, "flows.progress", types.SimpleNamespace(RunProgress=None, quiet_prefect_console=lambda: None)
    )
    monkeypatch.setattr(flows.prefect_api, "choose_api", lambda temporary_allowed: api)
    monkeypatch.setattr(flows.prefect_api, "using", lambda api: nullcontext())
    monkeypatch.setattr(flows.cli, "_check_config", lambda config, **options: None)
    return runner.invoke(app, ["run", "--quiet", "--config", str(tmp_path / "digest.toml"), *options])


def test_a_digest_error_is_one_line(monkeypatch, tmp_path):
    busy = StoreBusy("store sqlite:///data/digest.sqlite3: busy: run for 2026-11-27 (host desk, pid 4242) for 600 s")
    result = _run_raising(monkeypatch, tmp_path, busy)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Run failed: {busy}\n"
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "bug", [KeyError("id"), TypeError("'NoneType' object is not subscriptable"), OSError(5, "EIO")]
)
def test_an_unexpected_error_is_not_swallowed(monkeypatch, tmp_path, bug):
    result = _run_raising(monkeypatch, tmp_path, bug)
    assert result.exception is bug and result.exit_code == 1  # raised through: Python prints its traceback
    assert "Run failed" not in result.stderr
    assert not isinstance(bug, DigestError)


def test_a_bad_summary_option_is_a_usage_error_before_the_run(monkeypatch, tmp_path):
    for options, said in [
        (["--sentences", "51"], "less than or equal to 50"),
        (["--words", "5000"], "less than or equal to 2000"),
        (["--algorithm", "bogus"], "'news'"),
    ]:
        result = _run_raising(monkeypatch, tmp_path, AssertionError("the run must not start"), *options)
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '{options[0]}'" in result.stderr and said in result.stderr


def test_a_traceback_shows_no_locals():
    # the frames of a crashed run hold the settings, SMTP password included
    assert app.pretty_exceptions_show_locals is False


@pytest.mark.parametrize(
    "error, one_line",
    [(OutputError(13, "cannot write config/digest.toml: Permission denied"), True), (KeyError("folder"), False)],
)
def test_every_command_shows_a_digest_error_as_one_line_and_raises_the_rest(monkeypatch, tmp_path, error, one_line):
    import flows.starter

    def write_starter(folder, force):
        raise error

    monkeypatch.setattr(flows.starter, "write_starter", write_starter)
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 1
    if one_line:
        assert result.stderr == f"{error}\n" and isinstance(result.exception, SystemExit)
    else:
        assert result.exception is error
