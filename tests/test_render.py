import json
from datetime import date

from tasks.models import Attribution, Digest, Failure, Removal, RunReport, Story, StorySummary, SummarySentence
from tasks.render import digest_language, labels_for, render, subject, time_span, to_plain_text
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


def _digest_of(count: int, language: str = "en") -> Digest:
    summaries = []
    for n in range(1, count + 1):
        dispatch = make_dispatch(f"Story number {n} happened on Friday in the town of Example.", outlet=f"Outlet {n}",
                                 published=f"2026-11-27T0{n % 10}:15:00+00:00", language="en")
        story = Story(n, (dispatch,), f"Headline {n}", 1.0 / n)
        summaries.append(StorySummary(story, (SummarySentence(dispatch.sentences[0], (dispatch.attribution,)),)))
    return Digest(date(2026, 11, 27), "Digest", language, summaries, RunReport(dispatches_read=count))


def test_table_of_contents_from_six_stories_with_anchors():
    for count, expected in ((5, False), (6, True)):
        files = render(_digest_of(count))
        assert ("**Contents**" in files["md"]) is expected
        assert ("1. [Headline 1](#story-1)" in files["md"]) is expected
        assert ('<a href="#story-1"' in files["html"]) is expected
    files = render(_digest_of(6))
    assert '<a id="story-6"></a>\n## 6. Headline 6' in files["md"] and 'id="story-6"' in files["html"]
    plain = to_plain_text(_digest_of(6))
    assert "1. Headline 1\n" in plain and "<a id" not in plain and "(#story-1)" not in plain


def test_french_digest_has_french_labels_and_overrides_win():
    md = render(_digest_of(6, "fr"))["md"]
    for label in ("**Sommaire**", "6 sujets", "## Rapport d’exécution", "Dépêches lues: 6", "- Échecs: 0"):
        assert label in md
    assert "Contents" not in md and "Run report" not in md
    custom = labels_for("fr", {"report": "Bilan de la collecte", "contents": "Au sommaire"})
    files = render(_digest_of(6, "fr"), custom)
    assert "## Bilan de la collecte" in files["md"] and "Au sommaire" in files["html"]
    assert "Sommaire" not in files["md"] and "Dépêches lues" in files["md"]
    assert subject(_digest_of(1, "fr"), custom).endswith("— 1 sujet")


def test_story_shows_outlets_links_and_one_day_time_span():
    first = make_dispatch("The mayor opened the bridge on Friday morning.", outlet="AFP",
                          published="2026-11-27T07:40:00+00:00", language="en")
    second = make_dispatch("The new bridge links both banks of the river.", outlet="Reuters",
                           published="2026-11-27T09:15:00+00:00", language="en")
    story = Story(1, (first, second), "Bridge opens", 1.0)
    assert time_span(story) == "2026-11-27 07:40 – 09:15"
    cited = Attribution(first.id, "AFP", first.location, "https://afp.example/bridge")
    summary = StorySummary(story, (SummarySentence(first.sentences[0], (cited,)),))
    md = render(Digest(date(2026, 11, 27), "D", "en", [summary], RunReport()))["md"]
    assert "*Sources: AFP, Reuters · 2026-11-27 07:40 – 09:15*" in md
    assert "— [AFP](https://afp.example/bridge)" in md
