"""What `digest` prints on a terminal names files, URLs and outlets: a terminal escape code or Rich markup in
one is shown as text (\\x1b, [bold]), never obeyed (issue 24, point 6)."""

import io
import logging

from rich.console import Console
from typer.testing import CliRunner

from flows.cli import app
from flows.progress import RunProgress

RED = "\x1b[31m"  # turns the rest of the terminal red
SHOWN = "\\x1b[31m"
runner = CliRunner()


def _terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=400), screen


def _record(message: str, *args, level: int = logging.WARNING, **extra) -> logging.LogRecord:
    record = logging.LogRecord("prefect.flow_runs", level, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_run_s_warning_shows_a_file_name_s_escape_code_and_brackets():
    console, screen = _terminal()
    progress = RunProgress(console, verbose=False)
    progress.handle(_record("source %s failed (%s): %s", "files", f"in/bad{RED}.txt", "unreadable"))
    progress.handle(_record("source %s failed (%s): %s", "files", "in/[bold]bad[/x].txt", "unreadable"))
    shown = screen.getvalue()
    assert f"source files failed (in/bad{SHOWN}.txt): unreadable" in shown and RED not in shown
    assert "source files failed (in/[bold]bad[/x].txt): unreadable" in shown  # not Rich markup


def test_a_stage_s_result_shows_a_folder_s_escape_code_in_the_summary():
    console, screen = _terminal()
    with RunProgress(console, verbose=False) as progress:  # the live rows, then the summary table
        progress.handle(_record("reading %d sources", 1, level=logging.INFO, stage="sources", total=1))
        progress.handle(_record("read %d dispatches from %s", 2, f"in/[bold]{RED}", level=logging.INFO, stage="read"))
    console.print(progress.summary())
    shown = screen.getvalue()
    assert f"read 2 dispatches from in/[bold]{SHOWN}" in shown and RED not in shown


def test_summarise_names_an_unreadable_file_with_its_escape_code_shown(tmp_path):
    bad = tmp_path / f"bad{RED}.txt"
    bad.write_text("(Photo AFP)\n")
    result = runner.invoke(app, ["summarise", str(bad)], color=True)  # as on a terminal: click keeps escape codes
    assert result.exit_code == 1
    assert f"{tmp_path}/bad{SHOWN}.txt: no news text left after cleaning" in result.stderr and RED not in result.output


def test_a_configuration_problem_shows_a_path_s_escape_code(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text('[[sources]]\nname = "files"\npath = "in/bad\\u001b[31m"\n', encoding="utf-8")
    result = runner.invoke(app, ["check", "--config", str(config), "--offline"], color=True)
    assert result.exit_code == 2
    assert f"{tmp_path}/in/bad{SHOWN} does not exist" in result.stderr and RED not in result.output
