import json
from dataclasses import replace
from datetime import date

from tasks.models import Attribution, Digest, Failure, RunReport, Story, StorySummary, SummarySentence
from tasks.render import digest_language, labels_for, render, subject, time_span, to_plain_text
from tests.helpers import hostile_digest as _digest, make_dispatch


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
        dispatch = make_dispatch(
            f"Story number {n} happened on Friday in the town of Example.",
            outlet=f"Outlet {n}",
            published=f"2026-11-27T0{n % 10}:15:00+00:00",
            language="en",
        )
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
    first = make_dispatch(
        "The mayor opened the bridge on Friday morning.",
        outlet="AFP",
        published="2026-11-27T07:40:00+00:00",
        language="en",
    )
    second = make_dispatch(
        "The new bridge links both banks of the river.",
        outlet="Reuters",
        published="2026-11-27T09:15:00+00:00",
        language="en",
    )
    story = Story(1, (first, second), "Bridge opens", 1.0)
    assert time_span(story) == "2026-11-27 07:40 – 09:15"
    cited = Attribution(first.id, "AFP", first.location, "https://afp.example/bridge")
    summary = StorySummary(story, (SummarySentence(first.sentences[0], (cited,)),))
    md = render(Digest(date(2026, 11, 27), "D", "en", [summary], RunReport()))["md"]
    assert "*Sources: AFP, Reuters · 2026-11-27 07:40 – 09:15*" in md
    assert "— [AFP](https://afp.example/bridge)" in md


# Hostile fields, as a page, a feed, a file name or the config could carry them (issue 24, point 6).
FORGED = "\n## Forged story\n"
CLICK = "\n- [click](javascript:alert(1)) [win](https://evil.example/)"
SHOWN_CLICK = CLICK.strip()  # as the digest shows it: on the same line
RED = "\x1b[31m"  # a terminal escape code, in a file name
HOSTILE_URL = 'https://news.example/a b?q="x"&r=(1)&s=%C3%A9%zz\n<script>alert(1)</script>'
# Every character outside the URL-safe set encoded, the %C3%A9 kept, the stray % encoded; the newline is
# dropped as browsers drop it (WHATWG URL), so the link goes where the page's own link went.
ENCODED_URL = "https://news.example/a%20b?q=%22x%22&r=%281%29&s=%C3%A9%25zz%3Cscript%3Ealert%281%29%3C/script%3E"


def _hostile_digest() -> Digest:
    summaries = []
    for n, (headline, outlet) in enumerate(
        [(f"Budget vote{FORGED}", f"Écho{CLICK}"), (f"Bridge « opens »{CLICK}", f"Wire{FORGED}")], start=1
    ):
        dispatch = make_dispatch(f"Story {n} happened on Friday.", outlet=outlet, language="en")
        cited = Attribution(dispatch.id, outlet, f"in/bad{RED}{n}.txt", HOSTILE_URL)
        sentences = (SummarySentence(f"It passed{FORGED}", (cited,)), SummarySentence(f"1. Then{CLICK}", (cited,)))
        summaries.append(StorySummary(Story(n, (dispatch,), headline, 1.0), sentences))
    report = RunReport(
        dispatches_read=3, failures=[Failure(f"files{FORGED}", f"in/bad{RED}.txt{CLICK}", f"unreadable{FORGED}")]
    )
    return Digest(date(2026, 11, 27), f"Desk{FORGED}", "en", summaries, report)


HOSTILE_LABELS = labels_for("en", {"report": f"Run report{CLICK}"})  # labels come from the config too


def _tokens(markdown: str) -> list:
    from markdown_it import MarkdownIt

    parsed = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)
    return parsed + [child for token in parsed for child in token.children or []]


def _text(inline) -> str:
    return "".join(child.content for child in inline.children or [] if child.type == "text")  # none: not inline


def test_hostile_fields_forge_no_story_link_or_html_in_the_markdown():
    tokens = _tokens(render(_hostile_digest(), HOSTILE_LABELS)["md"])
    headings = [(token.tag, _text(tokens[i + 1])) for i, token in enumerate(tokens) if token.type == "heading_open"]
    assert headings == [
        ("h1", "Desk ## Forged story — 2026-11-27"),
        ("h2", "1. Budget vote ## Forged story"),
        ("h2", f"2. Bridge « opens » {SHOWN_CLICK}"),
        ("h2", f"Run report {SHOWN_CLICK}"),
    ]
    # The only markup is the digest's own: its story anchors; every link is a source's, encoded.
    assert [t.content for t in tokens if t.type.startswith("html")] == [
        '<a id="story-1">',
        "</a>",
        '<a id="story-2">',
        "</a>",
    ]
    assert [t.attrs["href"] for t in tokens if t.type == "link_open"] == [ENCODED_URL] * 4
    assert {t.type for t in tokens} & {
        "blockquote_open",
        "ordered_list_open",
        "table_open",
        "code_inline",
        "code_block",
        "fence",
        "hr",
        "s_open",
        "strong_open",
        "softbreak",
        "hardbreak",
        "image",
    } == {"hr"}
    items = [_text(tokens[i + 2]) for i, token in enumerate(tokens) if token.type == "list_item_open"]
    echo = f"Écho {SHOWN_CLICK}"  # the link's text
    assert items[:2] == [f"It passed ## Forged story — {echo}", f"1. Then {SHOWN_CLICK} — {echo}"]
    assert items[-1] == f"files ## Forged story (in/bad\\x1b[31m.txt {SHOWN_CLICK}): unreadable ## Forged story"
    assert len(items) == 4 + 7 + 1  # two sentences a story, seven report lines, one failure


def test_hostile_fields_forge_no_line_in_the_plain_text():
    plain = to_plain_text(_hostile_digest(), HOSTILE_LABELS)
    lines = plain.splitlines()
    assert [line for line in lines if line.startswith("#")] == [
        "# Desk ## Forged story — 2026-11-27",
        "## 1. Budget vote ## Forged story",
        f"## 2. Bridge « opens » {SHOWN_CLICK}",
        f"## Run report {SHOWN_CLICK}",
    ]
    link = f"[Écho {SHOWN_CLICK}]({ENCODED_URL})"
    assert [line for line in lines if " — [" in line] == [
        f"- It passed ## Forged story — {link}",
        f"- 1. Then {SHOWN_CLICK} — {link}",
        f"- It passed ## Forged story — [Wire ## Forged story]({ENCODED_URL})",
        f"- 1. Then {SHOWN_CLICK} — [Wire ## Forged story]({ENCODED_URL})",
    ]
    assert [line for line in lines if line.startswith("*")] == [
        f"*Sources: Écho {SHOWN_CLICK}*",
        "*Sources: Wire ## Forged story*",
    ]
    assert f"  - files ## Forged story (in/bad\\x1b[31m.txt {SHOWN_CLICK}): unreadable ## Forged story" in lines
    assert "\x1b" not in plain and "<script>" not in plain


def test_subject_is_one_line():
    assert subject(_hostile_digest()) == "Desk ## Forged story — 2026-11-27 — 2 stories"


def test_html_shows_hostile_fields_on_one_line_with_the_encoded_link():
    html = render(_hostile_digest())["html"]
    assert f'href="{ENCODED_URL.replace("&", "&amp;")}"' in html and "<script>" not in html
    assert f"<li>files ## Forged story (in/bad\\x1b[31m.txt {SHOWN_CLICK}): unreadable ## Forged story</li>" in html
    assert "\x1b" not in html


def test_sentences_that_are_markdown_on_their_own_stay_text():
    texts = [
        "---",
        "> quoted",
        "```",
        "~~~ fence",
        "| a | b |",
        "+ plus",
        "2) two",
        "&amp; co",
        "*emphasis* and _this_",
        "~~struck~~",
        "![img](https://x.example/y.png)",
        "<div>block</div>",
        "`code`",
        "3.5 million, 1-0",
    ]
    dispatch = make_dispatch("The council voted the budget on Monday evening.", outlet="AFP", language="en")
    cited = Attribution(dispatch.id, "AFP", dispatch.location, "https://x.example/?a=1&lt;b")
    summary = StorySummary(Story(1, (dispatch,), "Budget", 1.0), tuple(SummarySentence(t, (cited,)) for t in texts))
    tokens = _tokens(render(Digest(date(2026, 11, 27), "D", "en", [summary], RunReport()))["md"])
    items = [_text(tokens[i + 2]) for i, token in enumerate(tokens) if token.type == "list_item_open"]
    assert items[: len(texts)] == [f"{text} — AFP" for text in texts]
    assert {t.attrs["href"] for t in tokens if t.type == "link_open"} == {"https://x.example/?a=1&lt;b"}
    assert [t.type for t in tokens if t.type in {"hr", "s_open", "em_open", "image", "code_inline", "fence"}] == [
        "hr",
        "em_open",
    ]  # the digest's own rule and Sources line


def test_a_sentence_two_dispatches_of_one_outlet_said_cites_it_once():
    first = make_dispatch("The mayor opened the bridge on Friday morning.", outlet="AFP", language="en")
    second = make_dispatch("The mayor opened the new bridge on Friday.", outlet="AFP", language="en")
    other = make_dispatch("On Friday the mayor opened the bridge.", outlet="Reuters", language="en")
    said_by = tuple(
        Attribution(d.id, d.source, d.location, f"https://news.example/{n}")
        for n, d in enumerate((first, second, other))
    )
    story = Story(1, (first, second, other), "Bridge opens", 2.0)
    digest = Digest(
        date(2026, 11, 27),
        "D",
        "en",
        [StorySummary(story, (SummarySentence(first.sentences[0], said_by),))],
        RunReport(),
    )
    files = render(digest)
    assert "— [AFP](https://news.example/0) · [Reuters](https://news.example/2)\n" in files["md"]
    assert files["html"].count(">AFP</a>") == 1 and "*Sources: AFP, Reuters*" in files["md"]
    assert to_plain_text(digest).count("[AFP](") == 1
    assert [a["source"] for a in json.loads(files["json"])["stories"][0]["summary"][0]["from"]] == [
        "AFP",
        "AFP",
        "Reuters",
    ]


def _long_day(count: int, language: str = "en") -> Digest:
    """`_digest_of`, each story's dispatch with its web address."""
    digest = _digest_of(count, language)
    digest.stories = [
        replace(
            s,
            story=replace(
                s.story,
                dispatches=tuple(replace(d, url=f"https://news.example/{s.story.id}") for d in s.story.dispatches),
            ),
        )
        for s in digest.stories
    ]
    return digest


def test_a_long_day_shows_the_first_stories_in_full_and_lists_the_rest_by_headline():
    digest = _long_day(40)
    files, plain = render(digest), to_plain_text(digest)
    md, html = files["md"], files["html"]
    assert md.count("\n## ") == 32 and "## 30. Headline 30" in md and "## 31." not in md  # 30, Also today, report
    also_md = md.split("## Also today\n", 1)[1].split("\n---\n", 1)[0]
    assert [line.split("]")[0] for line in also_md.split("\n") if line] == [f"- [Headline {n}" for n in range(31, 41)]
    assert "- [Headline 31](https://news.example/31) — Outlet 31" in md
    also_html = html.split(">Also today</h2>", 1)[1].split("</ul>", 1)[0]
    assert also_html.count("<li") == 10 and '<a href="https://news.example/40"' in also_html
    assert html.count('<h2 id="story-') == 30 and "40 stories" in html
    assert plain.count("\n## ") == 32 and "Also today" in plain and "- [Headline 40](https://news.example/40)" in plain
    assert len(json.loads(files["json"])["stories"]) == 40
    assert "## Aussi aujourd’hui" in render(_long_day(31, "fr"))["md"]


def test_html_wraps_long_attributions_and_addresses_instead_of_scrolling():
    html = render(_digest_of(2))["html"]
    assert "nowrap" not in html
    assert "overflow-wrap:anywhere" in html.split("<body", 1)[1].split(">", 2)[1]  # the page's container


def test_a_view_online_link_only_when_asked_and_only_to_the_web():
    from tasks.render import page_url, to_html

    page = page_url("https://desk.example/revue/", "2026-11-27")
    assert page == "https://desk.example/revue/2026-11-27.html" and page_url(None, "2026-11-27") is None
    html = to_html(_digest(), online=page)
    assert (
        '<a href="https://desk.example/revue/2026-11-27.html" style="color:#6b6b66;">Voir ce digest en ligne</a>'
        in html
    )
    assert "Voir ce digest en ligne: <https://desk.example/revue/2026-11-27.html>" in to_plain_text(
        _digest(), online=page
    )
    assert "en ligne" not in render(_digest())["html"] and "en ligne" not in render(_digest())["md"]
    assert "en ligne" not in to_html(_digest(), online="javascript:alert(1)")
    assert "View online" in to_html(_digest(), labels_for("fr", {"view_online": "View online"}), online=page)
