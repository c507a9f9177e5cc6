import json
from datetime import date

from tasks.models import Attribution, Digest, Failure, Removal, RunReport, Story, StorySummary, SummarySentence
from tasks.render import digest_language, render, to_plain_text
from tests.helpers import make_dispatch

HOSTILE = 'Le « maire » a dit <script>alert("x")</script> & <img src=x onerror=alert(1)> *gras* [lien](javascript:alert(1))'


def _digest(url="javascript:alert(1)", language="fr"):
    dispatch = make_dispatch("Le conseil a voté le budget lundi soir.", outlet="L'Écho <b>", language="fr")
    attribution = Attribution(dispatch.id, dispatch.source, dispatch.location, url, "t")
    story = Story(1, (dispatch,), "Budget : « vote » <b>serré</b>", 1.0)
    report = RunReport(dispatches_read=3, dispatches_kept=1,
                       failures=[Failure("feed <x>", "https://bad.example/", "HTTP 404")],
                       removals=[Removal("clean", dispatch.id, "s", "(Photo AFP)", "photo caption or credit")])
    summary = StorySummary(story, (SummarySentence(HOSTILE, (attribution,)),))
    return Digest(date(2026, 11, 27), "Revue de presse", language, [summary], report)


def test_html_escapes_dispatch_text_and_drops_unsafe_links():
    html = render(_digest())["html"]
    assert "<script>" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;serré&lt;/b&gt;" in html
    assert "« maire »" in html and "Rapport d’exécution" in html and "L&#39;Écho &lt;b&gt;" in html
    assert 'lang="fr"' in html and "<style" not in html


def test_html_links_safe_source_urls():
    html = render(_digest(url="https://news.example/a?b=1&c=2"))["html"]
    assert 'href="https://news.example/a?b=1&amp;c=2"' in html


def test_markdown_escapes_markup_but_keeps_typography():
    md = render(_digest())["md"]
    assert "\\<script\\>" in md and "\\*gras\\*" in md and "javascript" not in md.split("—")[-1]
    assert "« maire »" in md and "## 1. Budget : « vote » \\<b\\>serré\\</b\\>" in md
    assert "- Échecs: 1" in md and "feed \\<x\\> (https://bad.example/): HTTP 404" in md
    plain = to_plain_text(_digest())
    assert '<script>alert("x")</script>' in plain


def test_json_lists_stories_sources_and_every_removal():
    data = json.loads(render(_digest(url="https://news.example/a"))["json"])
    assert data["date"] == "2026-11-27"
    [story] = data["stories"]
    assert story["summary"][0]["from"][0]["url"] == "https://news.example/a"
    assert story["dispatches"][0]["language"] == "fr"
    assert data["report"]["removed"]["clean"] == 1 and data["report"]["removals"][0]["text"] == "(Photo AFP)"
    assert data["report"]["failures"][0]["reason"] == "HTTP 404"


def test_english_labels_and_digest_language():
    assert "Run report" in render(_digest(language="en"))["md"]
    assert digest_language(["fr", "en", "fr"], "en") == "fr"
    assert digest_language([], "en") == "en"
