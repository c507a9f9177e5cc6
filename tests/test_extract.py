"""HTML main-text extraction: trafilatura's text checked against readability's."""

import trafilatura

from tasks.clean import CleaningRules, clean
from tasks.extract import _check_against_readability, extract_html
from tasks.models import RawDispatch

PARAGRAPHS = [
    "Dockers at the port of Rotterdam walked out on Wednesday over a new shift pattern, leaving dozens of "
    "container ships waiting at anchor outside the harbour.",
    "The union said the strike would last at least forty-eight hours unless the port authority withdrew the "
    "plan, which it says cuts rest time between night shifts.",
    "The port authority said the new pattern had been agreed with staff representatives last year and that it "
    "remained open to talks with the union this week.",
    "Shipping companies warned that delays could reach a week if the walkout continued into the weekend, with "
    "perishable cargo most at risk.",
]
TEASERS = [
    "Council votes new budget for the harbour district after a long night of debate.",
    "Storm warning issued for the whole coast as winds are expected to reach 120 km/h.",
]
COMMENTS = [
    "About time somebody stood up to the port authority, the night shifts are a disgrace and everyone knows it.",
    "My shipment has been stuck for two days already and nobody will tell me when it will be unloaded.",
]

ARTICLE_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Dockers strike halts port traffic | Harbour News</title>
<meta property="og:title" content="Dockers strike halts port traffic">
<meta property="og:site_name" content="Harbour News">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2026-11-26T18:40:00+01:00">
<link rel="canonical" href="https://harbour-news.example/port/dockers-strike">
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/port">Port</a></li><li><a href="/city">City</a></li>
<li><a href="/sport">Sport</a></li></ul></nav></header>
<main><article>
<h1>Dockers strike halts port traffic</h1>
<p class="byline">By Jane Doe</p>
<p>{PARAGRAPHS[0]}</p><p>{PARAGRAPHS[1]}</p>
<h2>Talks planned</h2>
<p>{PARAGRAPHS[2]}</p><p>{PARAGRAPHS[3]}</p>
</article>
<section id="comments" class="comments"><h3>2 comments</h3>
<div class="comment"><p class="comment-author">Piet</p><p>{COMMENTS[0]}</p></div>
<div class="comment"><p class="comment-author">Anna</p><p>{COMMENTS[1]}</p></div>
</section></main>
<aside class="related"><h3>Read more</h3><ul>
<li><a href="/a">{TEASERS[0]}</a></li><li><a href="/b">{TEASERS[1]}</a></li></ul></aside>
<footer><p>© 2026 Harbour News. All rights reserved.</p>
<p><a href="/privacy">Privacy</a> · <a href="/contact">Contact</a></p></footer>
</body></html>"""

# An old table layout, article text in a <span> split by <br>: trafilatura (include_tables=False)
# finds no article and falls back to a dump of the whole page, menus and sidebar included.
TABLE_PAGE = """<html><head><title>Harbour cranes idle as dockers strike</title>
<meta name="date" content="2008-01-14T06:47:00+00:00"></head><body>
<table width="100%"><tr><td>
<table><tr><td>
<a href="/">Home</a> | <a href="/news">News</a> | <a href="/sport">Sport</a> | <a href="/weather">Weather</a>
</td></tr></table>
</td></tr><tr><td>
<table width="100%"><tr><td width="150">
<table><tr><td><a href="/a">Council votes budget</a></td></tr>
<tr><td><a href="/b">Storm warning for coast</a></td></tr></table>
</td><td width="525">
<table width="100%"><tr><td>
<h1>Harbour cranes idle as dockers strike</h1>
<span class="story">{0}<br><br>{1}<br><br>{2}<br><br>{3}</span>
</td></tr></table>
</td></tr></table>
</td></tr></table>
</body></html>""".format(*PARAGRAPHS)

# A broken first tag: trafilatura rejects the page as "not valid HTML" and returns nothing.
BROKEN_PAGE = """<!DOCTYPE htm
  <div id="header"><a href="/">Radio 800</a> <a href="/news">News</a> <a href="/traffic">Traffic</a></div>
  <div id="content">
    <h2>Dockers strike halts port traffic</h2>
    <p>{0}</p>
    <p>{1}</p>
    <p>{2}</p>
  </div>
  <div id="footer">Copyright 2026 Radio 800</div>
</html>""".format(*PARAGRAPHS)

# No date and no site name in the markup: the date is in the text, the site in the canonical link.
UNDATED_PAGE = """<html><head><title>Harbour cranes idle as dockers strike</title>
<link rel="canonical" href="https://www.harbour-news.example/port/cranes-idle"></head><body>
<h1>Harbour cranes idle as dockers strike</h1><p>Monday 14 January 2008</p>
<p>{0}</p><p>{1}</p><p>{2}</p><p>{3}</p>
</body></html>""".format(*PARAGRAPHS)


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_article_text_without_nav_comments_teasers_or_footer_and_metadata_kept():
    text, meta = extract_html(ARTICLE_PAGE)
    lines = _lines(text)
    # paragraphs one a line, in page order
    assert [line for line in lines if line in PARAGRAPHS] == PARAGRAPHS
    assert "Talks planned" in lines
    for gone in ["Home", "Sport", "By Jane Doe", "Piet", "Privacy", *COMMENTS, *TEASERS]:
        assert not any(gone in line for line in lines), gone
    assert not any("All rights reserved" in line for line in lines)
    assert meta == {
        "title": "Dockers strike halts port traffic",
        "date": "2026-11-26T18:40:00+0100",
        "url": "https://harbour-news.example/port/dockers-strike",
        "author": "Jane Doe",
        "site": "Harbour News",
    }


def test_menus_and_sidebar_of_a_table_layout_are_dropped_where_trafilatura_keeps_them():
    plain = trafilatura.extract(TABLE_PAGE, include_comments=False, include_tables=False) or ""
    text, meta = extract_html(TABLE_PAGE)
    lines = _lines(text)
    assert [line for line in lines if line in PARAGRAPHS] == PARAGRAPHS
    for menu in ["Home", "News", "Weather", "Council votes budget", "Storm warning for coast"]:
        assert menu not in lines
    # the case the check exists for: trafilatura alone keeps the menu and the sidebar
    assert "Council votes budget" in plain.splitlines()
    assert meta["title"] == "Harbour cranes idle as dockers strike"
    assert meta["date"] == "2008-01-14T06:47:00+0000"


def test_page_trafilatura_rejects_is_read_and_the_fallback_gives_its_text():
    assert trafilatura.extract(BROKEN_PAGE, include_comments=False, include_tables=False) is None
    text, meta = extract_html(BROKEN_PAGE)
    lines = _lines(text)
    assert lines[-3:] == PARAGRAPHS[:3]
    assert "Radio 800" not in text and "Traffic" not in text
    assert meta["title"] == "Dockers strike halts port traffic"


def test_no_date_guessed_from_the_text_and_no_date_search_when_the_caller_has_the_date():
    text, meta = extract_html(UNDATED_PAGE)
    assert [line for line in _lines(text) if line in PARAGRAPHS] == PARAGRAPHS
    assert meta["date"] is None  # a date in the text is as often a copyright year: undated is honest
    assert meta["site"] == "harbour-news.example"
    assert extract_html(UNDATED_PAGE, need_date=False) == (text, {**meta, "date": None})
    assert extract_html(ARTICLE_PAGE, need_date=False)[1]["date"] is None


def test_no_text_gives_empty_text_and_clean_reports_it():
    assert extract_html("") == ("", {})
    assert extract_html("<html><body></body></html>")[0] == ""
    dispatch, _, failure = clean(RawDispatch("s", "page.html", "<html><body></body></html>", "html"), CleaningRules())
    assert dispatch is None and failure.reason == "no text after extraction"
    # a page that is only a menu: at most the menu's words, which cleaning does not take for news
    menu = "<html><body><nav><a href='/'>Home</a></nav></body></html>"
    assert extract_html(menu)[0] in ("", "Home")
    dispatch, _, failure = clean(RawDispatch("s", "page.html", menu, "html"), CleaningRules())
    assert dispatch is None and failure is not None


def test_deterministic():
    assert extract_html(ARTICLE_PAGE) == extract_html(ARTICLE_PAGE)
    assert extract_html(TABLE_PAGE) == extract_html(TABLE_PAGE)


def test_html_dispatch_cleaned_from_the_extracted_text():
    raw = RawDispatch("s", "page.html", ARTICLE_PAGE, "html")
    dispatch, _, failure = clean(raw, CleaningRules())
    assert failure is None
    assert dispatch.source == "Harbour News"
    assert dispatch.title == "Dockers strike halts port traffic"
    assert dispatch.published.isoformat() == "2026-11-26T18:40:00+01:00"
    assert dispatch.url == "https://harbour-news.example/port/dockers-strike"
    assert dispatch.sentences[0] == PARAGRAPHS[0]
    assert not any(c in dispatch.text for c in COMMENTS)


# --- the check itself, on texts (a line a paragraph) ----------------------------------------------

MENU = ["Home", "News", "Sport", "Weather", "Contact us"]


def test_lines_both_found_are_kept_menu_lines_readability_lacks_are_dropped():
    own = "\n".join([*MENU, *PARAGRAPHS, "Share this story", "Print"])
    assert _check_against_readability(own, "\n".join(PARAGRAPHS)).splitlines() == PARAGRAPHS


def test_prose_next_to_the_text_both_found_is_kept_prose_beyond_a_menu_is_not():
    own = "\n".join([*PARAGRAPHS, "Related stories", "More news", *TEASERS])
    other = "\n".join(PARAGRAPHS[:3])  # readability missed the last paragraph
    assert _check_against_readability(own, other).splitlines() == PARAGRAPHS


def test_when_the_two_disagree_trafilaturas_prose_is_kept():
    # readability picked a teaser box, trafilatura the article: few words in common
    own = "\n".join(["Breaking:", *PARAGRAPHS])
    other = "\n".join(["Breaking:", "Full story"])
    assert _check_against_readability(own, other).splitlines() == ["Breaking:", *PARAGRAPHS]


def test_readability_replaces_a_text_that_is_only_a_menu_or_nothing():
    other = "\n".join(PARAGRAPHS)
    assert _check_against_readability("\n".join(MENU), other).splitlines() == PARAGRAPHS
    assert _check_against_readability("", other).splitlines() == PARAGRAPHS
    assert _check_against_readability("\n".join(PARAGRAPHS), "").splitlines() == PARAGRAPHS


def test_lead_paragraph_readability_has_before_the_common_text_is_put_back_in_place():
    own = "\n".join(["Dockers strike halts port traffic", *PARAGRAPHS[1:]])
    other = "\n".join(PARAGRAPHS)
    assert _check_against_readability(own, other).splitlines() == PARAGRAPHS


def test_paragraph_readability_has_between_common_ones_is_put_back_when_trafilaturas_text_is_short():
    own = "\n".join([PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[3]])  # trafilatura skipped a paragraph
    assert _check_against_readability(own, "\n".join(PARAGRAPHS)).splitlines() == PARAGRAPHS


def test_prose_readability_has_between_common_paragraphs_is_not_added_when_trafilaturas_text_is_not_short():
    caption = "Cranes stand idle at the container terminal on Wednesday morning."
    other = "\n".join([PARAGRAPHS[0], caption, *PARAGRAPHS[1:]])
    assert _check_against_readability("\n".join(PARAGRAPHS), other).splitlines() == PARAGRAPHS
