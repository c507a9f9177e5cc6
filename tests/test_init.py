"""`digest init`: a starter configuration that parses, passes `digest check`, and is never overwritten by accident."""

import re
import tomllib

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
