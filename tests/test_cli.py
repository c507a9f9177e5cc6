import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import ROOT, SAMPLES
from tests.helpers import DIGEST

runner = CliRunner()


def test_summarise_seeds_prints_french_sentences_without_caption_or_repeat(seeds):
    result = runner.invoke(app, ["summarise", *map(str, seeds)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 4
    inputs = " ".join(p.read_text(encoding="utf-8") for p in seeds)
    normalised_inputs = inputs.replace("\u2011", "-")
    assert all(line in normalised_inputs for line in lines)
    assert not any("AFP /" in line or "POOL /" in line or "(Photo" in line for line in lines)
    assert sum("une première depuis le début de la guerre" in line for line in lines) <= 1
    assert any("é" in line for line in lines)


def test_summarise_word_budget_and_language(seeds):
    result = runner.invoke(app, ["summarise", "--words", "40", "--language", "fr", str(seeds[1])])
    assert result.exit_code == 0, result.output
    assert len(result.output.split()) <= 45


def test_summarise_several_samples_as_one_story():
    files = [str(SAMPLES / "rotterdam-strike-reuters.txt"), str(SAMPLES / "rotterdam-strike-ap.json")]
    result = runner.invoke(app, ["summarise", "--sentences", "2", *files])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[0].startswith("Dock workers at the Port of Rotterdam")


def test_summarise_rejects_both_lengths_and_unreadable_input(tmp_path):
    result = runner.invoke(app, ["summarise", "--words", "40", "--sentences", "2", str(SAMPLES / "chess-final.txt")])
    assert result.exit_code != 0 and "not both" in result.output
    empty = tmp_path / "empty.txt"
    empty.write_text("(Photo AFP)\n")
    result = runner.invoke(app, ["summarise", str(empty)])
    assert result.exit_code == 1
    assert "no news text left after cleaning" in result.output


def test_help_answers_without_importing_prefect_or_sumy():
    # Those imports take ~5 s; help and option errors must not wait for them.
    probe = (
        "import sys\nfrom typer.testing import CliRunner\nfrom flows.cli import app\n"
        "result = CliRunner().invoke(app, ['run', '--help'])\n"
        "print(result.exit_code, '--sentences' in result.output, sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'sumy', 'nltk'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0 True []", out.stdout + out.stderr


def _run(config_text: str, tmp_path, *options: str) -> subprocess.CompletedProcess:
    """`digest run` in a subprocess against the session's Prefect API, with Prefect's default console logging."""
    import prefect.settings

    config = tmp_path / "digest.toml"
    config.write_text(config_text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_LOGGING_LEVEL"}
    env["PREFECT_API_URL"] = prefect.settings.PREFECT_API_URL.value()
    places = ["--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
    return subprocess.run(
        [*DIGEST, "run", "--config", str(config), "--date", "2026-11-27", *places, *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


SAMPLES_CONFIG = f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n'


@pytest.mark.prefect
def test_run_shows_each_stage_then_a_summary_and_the_paths(prefect_api, tmp_path):
    run = _run(SAMPLES_CONFIG, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr == ""  # Prefect's own lines give way to the display
    for stage, result in [
        ("Sources", "read 6 dispatches from 1/1 source"),
        ("Cleaning", "cleaned 6 dispatches"),
        ("Duplicates", "removed repeated sentences: 1"),
        ("Stories", "stories: 4"),
    ]:
        assert re.search(rf"│ {stage} +│ {re.escape(result)}", run.stdout), run.stdout
    lines = run.stdout.splitlines()
    assert re.fullmatch(r"4 stories for 2026-11-27; 0 failures; \d+\.\d s", lines[-4])
    assert lines[-3:] == [str(tmp_path / "out" / f"2026-11-27.{ext}") for ext in ("md", "html", "json")]
    assert "source samples:" not in run.stdout


@pytest.mark.prefect
def test_run_quiet_prints_nothing_on_success_and_verbose_shows_each_source(prefect_api, tmp_path):
    quiet = _run(SAMPLES_CONFIG, tmp_path, "--quiet")
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert (tmp_path / "out" / "2026-11-27.md").exists()
    verbose = _run(SAMPLES_CONFIG, tmp_path, "--verbose")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert "source samples: 6 dispatches, 0 failures" in verbose.stdout


@pytest.mark.prefect
def test_run_quiet_prints_only_the_error_when_the_run_fails(prefect_api, tmp_path):
    (tmp_path / "empty").mkdir()
    run = _run(f'[[sources]]\nname = "empty"\npath = "{tmp_path / "empty"}"\n', tmp_path, "--quiet")
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr == "Run failed: empty: folder holds no .txt, .html, .json or .jsonl file\n"


@pytest.mark.parametrize(
    "command", [["history"], ["export", "--date", "2026-11-27"], ["forget", "--date", "2026-11-27"]]
)
@pytest.mark.parametrize(
    "store, reason",
    [
        (["--store", "notadialect://x"], "not a usable store URL"),
        (["--data-dir", "{tmp}/file"], "store sqlite:///{tmp}/file/digest.sqlite3: "),
        (["--data-dir", "{tmp}/damaged"], "file is not a database"),
        (["--data-dir", "{tmp}/empty"], "the file is empty (0 bytes)"),
    ],
)
def test_a_bad_store_is_one_line_for_every_store_command(tmp_path, command, store, reason):
    (tmp_path / "file").write_text("a file, not a folder")
    for folder, content in (("damaged", b"not a database, but text"), ("empty", b"")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "digest.sqlite3").write_bytes(content)
    config = tmp_path / "digest.toml"
    config.write_text(f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n', encoding="utf-8")
    options = [option.format(tmp=tmp_path) for option in store]
    result = runner.invoke(app, [*command, "--config", str(config), *options])
    assert result.exit_code == 2, result.output
    assert reason.format(tmp=tmp_path) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _helps(command, path=()):
    """(command path, help text as written) of every command, argument and option."""
    yield path, command.help or ""
    for param in command.params:
        yield path, getattr(param, "help", None) or ""
    for name, sub in getattr(command, "commands", {}).items():  # typer's own click: no click.Group to test
        yield from _helps(sub, (*path, name))


def test_every_help_text_is_shown_as_written():
    import typer.main

    assert any("[[schedules]]" in text.replace("\\[", "[") for _, text in _helps(typer.main.get_command(app)))
    shown = {}
    for path, text in _helps(typer.main.get_command(app)):
        if path not in shown:
            result = runner.invoke(app, [*path, "--help"], terminal_width=400, env={"COLUMNS": "400"})
            assert result.exit_code == 0, result.output
            shown[path] = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
        assert " ".join(text.replace("\\[", "[").split()) in shown[path], path


def test_history_fits_80_columns_without_cutting_a_date(tmp_path):
    from datetime import date

    from tasks.store import Store, store_url

    store = Store.open(store_url(tmp_path / "data"))
    for status in ("completed", "email failed", "kept stored"):
        store.finish_run(store.start_run(date(2026, 11, 27)), status, 12345, 1000, 12, [])
    store.save_digest(date(2026, 11, 27), 12, "{}", [])
    store.start_run(date(2026, 11, 28))  # still "running" from this process
    store.close()
    config = tmp_path / "digest.toml"
    config.write_text(SAMPLES_CONFIG, encoding="utf-8")
    result = runner.invoke(
        app, ["history", "--config", str(config), "--data-dir", str(tmp_path / "data")], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in result.stdout, result.stdout
    # Each row: run, its date, the date it started (its time may go below), ..., the date its digest was written.
    rows = [line for line in lines if re.match(r" +\d+ ", line)]
    assert len(rows) == 4, result.stdout
    assert re.match(r" +4 2026-11-28 +\d{4}-\d{2}-\d{2}\b.* 0 +0 +0 +0 +- *$", rows[0]), result.stdout
    for row in rows[1:]:
        assert re.match(r" +\d 2026-11-27 +\d{4}-\d{2}-\d{2}\b.* 12345 +1000 +12 +0 +\d{4}-\d{2}-\d{2} *$", row), row


def test_plural_says_one_in_the_singular():
    from tasks.render import plural

    assert [plural(n, "source") for n in (0, 1, 2)] == ["0 sources", "1 source", "2 sources"]
    assert plural(1, "story", "stories") == "1 story" and plural(3, "story", "stories") == "3 stories"


def test_forget_counts_in_the_singular_and_the_plural(tmp_path):
    from datetime import date

    from tasks.store import Store, store_url

    store = Store.open(store_url(tmp_path / "data"))
    store.save_digest(date(2026, 11, 27), 1, "{}", [])
    for recipients in (["a@example.org"], ["b@example.org"]):
        store.record_delivery(date(2026, 11, 27), "email", recipients, "<id@example.org>")
    store.close()
    config = tmp_path / "digest.toml"
    config.write_text(SAMPLES_CONFIG, encoding="utf-8")
    result = runner.invoke(
        app, ["forget", "--config", str(config), "--data-dir", str(tmp_path / "data"), "--date", "2026-11-27"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "0 dispatches, 1 digest, 2 deliveries forgotten\n"


@pytest.mark.prefect
def test_run_says_one_of_each_in_the_singular(prefect_api, tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    (one / "chess-final.txt").write_bytes((SAMPLES / "chess-final.txt").read_bytes())
    run = _run(f'[[sources]]\nname = "one"\npath = "{one}"\n', tmp_path, "--verbose")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "source one: 1 dispatch, 0 failures" in run.stdout, run.stdout
    assert re.search(r"│ Sources +│ read 1 dispatch from 1/1 source +│", run.stdout), run.stdout
    assert re.search(r"│ Cleaning +│ cleaned 1 dispatch;", run.stdout), run.stdout
    assert re.search(r"kept 1 dispatch +│", run.stdout), run.stdout
    assert re.search(r"^1 story for 2026-11-27; 0 failures; \d+\.\d s$", run.stdout, re.MULTILINE), run.stdout
