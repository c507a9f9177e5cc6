"""`digest sources import FILE.opml`: feeds appended to the config as [[sources]], its text and comments kept."""

import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.opml import OpmlError, _parse_without_dtd, read_opml
from flows.settings import load_settings
from tests.conftest import SAMPLES

runner = CliRunner()
CONFIG = f'''# My desk. Comments stay.
[digest]
title = "Desk"   # a comment after a value

[[sources]]
name = "samples"
path = "{SAMPLES}"

[[sources]]
name = "Le Monde"
kind = "feed"
url = "https://www.lemonde.fr/rss/une.xml"

[email]
recipients = []  # the last table: the new [[sources]] come after it
'''
OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="News" title="News">
      <outline type="rss" text="Le Monde (une)" xmlUrl="HTTPS://www.lemonde.fr/rss/une.xml/"/>
      <outline text="World">
        <outline type="rss" text="BBC text" title="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
        <outline type="rss" text="Le Monde" xmlUrl="https://www.lemonde.fr/international/rss_full.xml"/>
      </outline>
    </outline>
    <outline type="rss" text="samples" xmlUrl="https://example.org/feed.xml"/>
    <outline type="rss" text="BBC again" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
    <outline type="rss" xmlUrl="https://untitled.example/rss"/>
    <outline type="rss" text="a &quot;quoted&quot; \\ name &#233;t&#233;" xmlUrl="https://quotes.example/rss?a=1&amp;b=2"/>
    <outline type="rss" text="Not the web" xmlUrl="ftp://files.example/feed.xml"/>
  </body>
</opml>
"""


def _files(tmp_path: Path, config: str = CONFIG, opml: str = OPML) -> tuple[Path, Path]:
    (tmp_path / "desk").mkdir()
    config_path, opml_path = tmp_path / "desk" / "digest.toml", tmp_path / "feeds.opml"
    config_path.write_bytes(config.encode())
    opml_path.write_text(opml, encoding="utf-8")
    return config_path, opml_path


def _import(config: Path, opml: Path, *options: str):
    return runner.invoke(app, ["sources", "import", str(opml), "--config", str(config), *options])


def test_feeds_are_appended_as_sources_and_the_config_text_is_kept(tmp_path):
    config, opml = _files(tmp_path)
    result = _import(config, opml)
    assert result.exit_code == 0, result.output
    text = config.read_text(encoding="utf-8")
    assert text.startswith(CONFIG)  # appended: nothing re-serialised, every comment where it was
    sources = load_settings(config).sources
    assert [(s.name, s.kind, s.url) for s in sources[2:]] == [
        ("BBC News", "feed", "https://feeds.bbci.co.uk/news/world/rss.xml"),  # title before text
        ("Le Monde (2)", "feed", "https://www.lemonde.fr/international/rss_full.xml"),  # the config has "Le Monde"
        ("samples (2)", "feed", "https://example.org/feed.xml"),
        ("untitled.example", "feed", "https://untitled.example/rss"),  # no title: the host
        ('a "quoted" \\ name été', "feed", "https://quotes.example/rss?a=1&b=2"),
    ]
    assert '# from feeds.opml, News / World\n[[sources]]\nname = "BBC News"\n' in text  # nested categories
    lines = result.stdout.splitlines()
    assert 'skipped "Le Monde (une)" HTTPS://www.lemonde.fr/rss/une.xml/: already in the config as "Le Monde"' in lines
    assert (
        'skipped "BBC again" https://feeds.bbci.co.uk/news/world/rss.xml: already in the config as "BBC News"' in lines
    )
    assert 'skipped "Not the web" ftp://files.example/feed.xml: not an http(s) URL' in lines
    assert lines[-1] == f"5 feeds added to {config}; 3 feeds skipped"
    assert [p.name for p in config.parent.iterdir()] == ["digest.toml"]  # no temporary file left

    again = _import(config, opml)  # every feed is there now: the file is left alone
    assert again.exit_code == 0, again.output
    assert config.read_text(encoding="utf-8") == text
    assert again.stdout.splitlines()[-1] == f"0 feeds added to {config}; 8 feeds skipped"


def test_one_feed_is_said_in_the_singular(tmp_path):
    config, opml = _files(
        tmp_path, opml='<opml version="2.0"><body><outline text="One" xmlUrl="https://one.example/rss"/></body></opml>'
    )
    result = _import(config, opml)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ['added "One" https://one.example/rss', f"1 feed added to {config}"]


def test_dry_run_writes_nothing(tmp_path):
    config, opml = _files(tmp_path)
    result = _import(config, opml, "--dry-run")
    assert result.exit_code == 0, result.output
    assert 'would add "BBC News" https://feeds.bbci.co.uk/news/world/rss.xml' in result.stdout
    assert result.stdout.splitlines()[-1] == f"5 feeds to add to {config}; 3 feeds skipped; nothing written (--dry-run)"
    assert config.read_bytes() == CONFIG.encode()


def test_windows_line_ends_and_the_file_mode_are_kept(tmp_path):
    config, opml = _files(tmp_path, config=CONFIG.replace("\n", "\r\n"))
    config.chmod(0o600)
    assert _import(config, opml).exit_code == 0
    data = config.read_bytes()
    assert data.startswith(CONFIG.replace("\n", "\r\n").encode()) and b"\n" not in data.replace(b"\r\n", b"")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert len(load_settings(config).sources) == 7


def test_a_config_without_a_final_line_break_gets_one(tmp_path):
    config, opml = _files(tmp_path, config=CONFIG.rstrip("\n"))
    assert _import(config, opml).exit_code == 0
    assert config.read_text(encoding="utf-8").startswith(CONFIG + "\n# from feeds.opml")


@pytest.mark.parametrize(
    "opml, reason",
    [
        (
            "<opml><body><outline text='x' xmlUrl='https://x.example/rss'></body></opml>",
            "not well-formed XML: mismatched tag: line 1",
        ),
        ("", "not well-formed XML: no element found"),
        ("<rss><channel/></rss>", "not an OPML file: its root element is <rss>, not <opml>"),
        ("<opml version='2.0'><head/></opml>", "not an OPML file: <opml> has no <body>"),
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            "<opml><body><outline text='&lol2;' xmlUrl='https://x.example/'/></body></opml>",
            "it declares a DTD or entities",
        ),
        ('<?xml version="1.0"?><!DOCTYPE opml SYSTEM "file:///etc/passwd"><opml><body/></opml>', "declares a DTD"),
    ],
)
def test_a_malformed_opml_is_one_line_naming_the_file_and_the_config_is_untouched(tmp_path, opml, reason):
    config, path = _files(tmp_path, opml=opml)
    result = _import(config, path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{path}: ") and reason in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert config.read_bytes() == CONFIG.encode()


def test_the_standard_library_parser_refuses_a_dtd_too():
    """When defusedxml is not installed."""
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><opml><body/></opml>'
    with pytest.raises(OpmlError, match="declares a DTD or entities"):
        _parse_without_dtd(Path("bomb.opml"), bomb)
    assert _parse_without_dtd(Path("ok.opml"), b"<opml><body/></opml>").tag == "opml"


def test_an_opml_without_feeds_and_a_missing_file_are_said(tmp_path):
    config, opml = _files(tmp_path, opml="<opml><body><outline text='Empty folder'/></body></opml>")
    result = _import(config, opml)
    assert result.exit_code == 1 and result.stderr == f"{opml}: no feed in it (no outline has an xmlUrl)\n"
    result = _import(config, tmp_path / "nowhere.opml")
    assert result.exit_code == 2 and result.stderr.startswith(f"{tmp_path / 'nowhere.opml'}: cannot be read: ")
    assert read_opml(opml) == []


def test_a_result_the_settings_loader_refuses_is_not_written(tmp_path):
    """An inline `sources = [...]` cannot take a [[sources]] after it; nor can a config that is already invalid."""
    inline = f'sources = [{{ name = "samples", path = "{SAMPLES}" }}]\n'
    for text, reason in ((inline, "not valid TOML"), (CONFIG + "[digest.colour]\n", "unknown key")):
        config, opml = _files(tmp_path, config=text)
        result = _import(config, opml)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Configuration error\n") and reason in result.stderr, result.stderr
        assert f"{config}:" in result.stderr and ".tmp" not in result.stderr  # names the config, not the temporary file
        assert config.read_bytes() == text.encode()
        assert sorted(p.name for p in config.parent.iterdir()) == ["digest.toml"]
        shutil.rmtree(config.parent)
        opml.unlink()


@pytest.mark.parametrize(
    "data, reason", [(b"<opml><body>", "no element found"), (b"<opml></body></opml>", "mismatched tag")]
)
def test_the_standard_library_parser_names_what_is_not_well_formed(data, reason):
    with pytest.raises(OpmlError, match=f"^x.opml: not well-formed XML: {reason}"):
        _parse_without_dtd(Path("x.opml"), data)
