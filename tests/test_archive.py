"""The archive beside the digests: index.html (the days, newest first) and feed.xml (Atom 1.0), rebuilt
from the digests on disk; the feed read back with feedparser, as a feed reader would."""

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import feedparser
import pytest

from tasks.output import archive_entries, write_archive, write_digest
from tasks.render import render
from tests.helpers import french_samples, hostile_digest as _digest


def _write_day(out: Path, day: date, stories: int = 1, headline: str | None = None):
    digest = _digest(url="https://news.example/a")
    story = digest.stories[0]
    if headline is not None:
        story = replace(story, story=replace(story.story, headline=headline))
    digest = replace(digest, day=day, stories=[story] * stories)
    return write_digest(render(digest), out, day)


def _feed(out: Path):
    parsed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "atom10"
    return parsed


def test_index_and_feed_list_the_days_newest_first(tmp_path):
    out = tmp_path / "digests"
    _write_day(out, date(2026, 11, 27), stories=1)
    _write_day(out, date(2026, 11, 28), stories=2, headline="Deuxième jour")
    assert [p.name for p in write_archive(out, "Revue de presse", "fr")] == ["index.html", "feed.xml"]

    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.index('href="2026-11-28.html"') < index.index('href="2026-11-27.html"')
    assert (
        "2026-11-28</a> — Revue de presse · 2 sujets" in index and "2026-11-27</a> — Revue de presse · 1 sujet" in index
    )
    assert '<link rel="alternate" type="application/atom+xml" title="Revue de presse" href="feed.xml">' in index

    feed = _feed(out)
    assert feed.feed.title == "Revue de presse" and feed.feed.id.startswith("urn:uuid:")
    assert feed.feed.updated == "2026-11-28T00:00:00Z"  # the newest entry's: undated dispatches, the day's start
    assert [e.title for e in feed.entries] == [
        "Revue de presse — 2026-11-28 — 2 sujets",
        "Revue de presse — 2026-11-27 — 1 sujet",
    ]
    assert [e.link for e in feed.entries] == ["2026-11-28.html", "2026-11-27.html"]  # relative without public_url
    assert all(e.id.startswith("urn:uuid:") for e in feed.entries) and len({e.id for e in feed.entries}) == 2
    [content] = feed.entries[0].content
    assert content.type == "text/html" and "Deuxième jour" in content.value and "<body" not in content.value
    raw = (out / "feed.xml").read_text(encoding="utf-8")  # the page's escaped markup, escaped once more
    assert "<script" not in raw and "&amp;lt;script&amp;gt;" in raw


def test_with_a_public_url_links_and_ids_are_absolute(tmp_path):
    out = tmp_path / "digests"
    _write_day(out, date(2026, 11, 27))
    write_archive(out, "Revue de presse", "fr", "https://desk.example/revue")
    feed = _feed(out)
    assert feed.feed.id == "https://desk.example/revue/feed.xml"
    assert {(link.rel, link.href) for link in feed.feed.links} == {
        ("self", "https://desk.example/revue/feed.xml"),
        ("alternate", "https://desk.example/revue/index.html"),
    }
    [entry] = feed.entries
    assert entry.link == entry.id == "https://desk.example/revue/2026-11-27.html"
    # the index links stay relative: it works where it is published and on disk alike
    assert 'href="2026-11-27.html"' in (out / "index.html").read_text(encoding="utf-8")


def test_a_re_run_of_a_day_replaces_its_entry_and_keeps_its_id(tmp_path):
    out = tmp_path / "digests"
    _write_day(out, date(2026, 11, 27))
    _write_day(out, date(2026, 11, 28))
    write_archive(out, "Revue de presse", "fr")
    before = {e.link: e for e in _feed(out).entries}
    written = {name: (out / name).read_bytes() for name in ("index.html", "feed.xml")}
    write_archive(out, "Revue de presse", "fr")  # nothing changed: the same bytes
    assert {name: (out / name).read_bytes() for name in written} == written

    _write_day(out, date(2026, 11, 27), stories=3, headline="Relu et corrigé")
    write_archive(out, "Revue de presse", "fr")
    after = _feed(out).entries
    assert [e.link for e in after] == ["2026-11-28.html", "2026-11-27.html"]  # still by day, once each
    assert after[1].id == before["2026-11-27.html"].id
    assert "Relu et corrigé" in after[1].content[0].value and after[1].title.endswith("3 sujets")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('href="2026-11-27.html"') == 1 and "1 sujet<" not in index.split("2026-11-27</a>")[1]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_titles_from_the_web_are_escaped_and_what_xml_cannot_hold_is_dropped(tmp_path):
    out = tmp_path / "digests"
    hostile = 'Fin ]]> <script>alert("x")</script> & \x0b\x01 <b>gras</b>'
    _write_day(out, date(2026, 11, 27), headline=hostile)
    # a digest file edited by hand, or written by an older version, with raw control characters
    data = json.loads((out / "2026-11-27.json").read_text(encoding="utf-8"))
    data["title"] = "Revue \x01 <i>"
    (out / "2026-11-27.json").write_text(json.dumps(data), encoding="utf-8")
    page = out / "2026-11-27.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</h1>", "\x01\ufffe</h1>"), encoding="utf-8")
    write_archive(out, 'Desk <&> "x"', "fr")
    feed = _feed(out)
    assert feed.feed.title == 'Desk <&> "x"'
    [entry] = feed.entries
    assert "<script" not in entry.content[0].value
    assert entry.title == "Revue \\x01 <i> — 2026-11-27 — 1 sujet"  # text, its control character shown
    raw = (out / "feed.xml").read_text(encoding="utf-8")
    assert "<i>" not in raw and "\x01" not in raw and "\x0b" not in raw and "\ufffe" not in raw and "]]>" not in raw
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<script" not in index and "<b>" not in index and "<i>" not in index and "\x01" not in index
    assert "&lt;script&gt;" in index


def test_files_that_are_not_digests_are_left_out(tmp_path):
    out = tmp_path / "digests"
    _write_day(out, date(2026, 11, 27))
    (out / "notes.json").write_text("{}", encoding="utf-8")
    (out / "2026-11-28.json").write_text("{not json", encoding="utf-8")  # broken
    (out / "2026-11-29.json").write_text('{"stories": []}', encoding="utf-8")  # no .html beside it
    (out / "2026-11-30.json").write_text('["a list"]', encoding="utf-8")
    (out / "2026-11-31.json").write_text("{}", encoding="utf-8")  # no such day
    (out / "2026-11-31.html").write_text("<p>x</p>", encoding="utf-8")
    assert [e.day for e in archive_entries(out)] == ["2026-11-27"]
    write_archive(out, "Revue de presse", "fr")
    assert len(_feed(out).entries) == 1


def test_the_feed_holds_the_latest_days_and_the_index_all(tmp_path):
    out = tmp_path / "digests"
    for day in range(1, 5):
        _write_day(out, date(2026, 11, day))
    entries = archive_entries(out, with_body=2)
    assert [e.day for e in entries] == ["2026-11-04", "2026-11-03", "2026-11-02", "2026-11-01"]
    assert [e.body is not None for e in entries] == [True, True, False, False]
    size = len(entries[0].body.encode())
    assert [e.body is not None for e in archive_entries(out, body_bytes=size * 2)] == [True, True, False, False]
    assert [e.body is not None for e in archive_entries(out, body_bytes=size * 2 - 1)] == [True, False, False, False]
    assert [e.body is not None for e in archive_entries(out, body_bytes=1)] == [True, False, False, False]  # the newest


@pytest.mark.prefect
def test_the_flow_rebuilds_the_archive_after_each_day_and_a_re_run(prefect_api, tmp_path):
    from flows.daily_digest import run_daily_digest

    folder = french_samples(tmp_path / "fr")
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[digest]\ntitle = "Revue de presse"\nout_dir = "{tmp_path / "digests"}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'public_url = "https://desk.example/revue/"\n[[sources]]\nname = "fr"\npath = "{folder}"\n',
        encoding="utf-8",
    )
    out = tmp_path / "digests"
    run_daily_digest(date="2026-11-27", config_path=str(config))
    first = _feed(out).entries
    assert [e.link for e in first] == ["https://desk.example/revue/2026-11-27.html"]
    run_daily_digest(date="2026-11-28", config_path=str(config))  # the same dispatches: already digested
    feed = _feed(out)
    assert [(e.link.rsplit("/", 1)[1], e.title.rsplit(" — ", 1)[1]) for e in feed.entries] == [
        ("2026-11-28.html", "0 stories"),
        ("2026-11-27.html", "2 sujets"),
    ]  # each in its digest's language
    run_daily_digest(date="2026-11-27", config_path=str(config))  # a re-run of the first day
    again = _feed(out).entries
    assert [e.id for e in again] == [e.id for e in feed.entries] and len(again) == 2
    assert "Crue du Rhône" in again[1].content[0].value
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.index("2026-11-28.html") < index.index("2026-11-27.html") and "2 sujets" in index


def test_an_entry_is_updated_at_its_latest_dispatch_of_the_day_or_the_next(tmp_path):
    out = tmp_path / "digests"
    _write_day(out, date(2026, 11, 27), stories=3)
    path = out / "2026-11-27.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for story, moment in zip(data["stories"], ["2026-11-27T15:30:00+01:00", "2026-12-25T08:00:00+00:00", None]):
        story["last_published"] = moment  # a date far off is a misread one: not taken
    path.write_text(json.dumps(data), encoding="utf-8")
    [entry] = archive_entries(out)
    assert entry.updated.isoformat() == "2026-11-27T14:30:00+00:00"
    write_archive(out, "Revue de presse", "fr")
    assert _feed(out).entries[0].updated == "2026-11-27T14:30:00Z"
