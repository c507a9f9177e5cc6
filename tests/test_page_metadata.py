"""What a page says about itself (issue 17): its headline, its publisher and its date, read from real
pages' markup, damaged or not; markup left as text never reaches a reader."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tasks.clean import CleaningRules, clean
from tasks.extract import cut_decorations, extract_html, registrable_domain
from tasks.models import RawDispatch
from tasks.sources import SourceSpec
from tests.helpers import cleaned, load_all

PARAGRAPHS = [
    "Dockers at the port of Rotterdam walked out on Wednesday over a new shift pattern, leaving dozens of "
    "container ships waiting at anchor outside the harbour.",
    "The union said the dockers' strike would last at least forty-eight hours unless the port authority "
    "withdrew the plan, which it says cuts rest time between night shifts.",
    "The port authority said the new pattern had been agreed with staff representatives last year and that it "
    "remained open to talks with the union this week.",
]
BODY = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
HEADLINE = "Dockers strike halts port traffic"


def _page(head: str, body: str = f"<h1>{HEADLINE}</h1>{BODY}") -> str:
    return f"<html><head>{head}</head><body><article>{body}</article></body></html>"


def _cleaned(page: str, url: str | None = "https://news.harbour.co.uk/port/dockers-strike-halts-traffic", **raw):
    dispatch, removals, failure = cleaned(page, "html", source="crawl", location=url or "page.html", url=url, **raw)
    assert failure is None
    return dispatch, removals


# --- markup never reaches a reader -------------------------------------------------------------------


def test_a_title_left_open_swallows_no_script_into_the_title_or_the_text():
    scripts = (
        "<script>var ad = 'top'; document.write('<b>' + ad + '</b>');</script>"
        "<style>#nav a{color:#fff;padding:0 6px;}</style>"
    )
    page = f"<html><head><title>Harbour News - {HEADLINE} {scripts}</head><body><h1>{HEADLINE}</h1>{BODY}</body></html>"
    dispatch, _ = _cleaned(page)
    assert dispatch.title == HEADLINE
    assert dispatch.sentences == PARAGRAPHS
    assert not any(mark in dispatch.text for mark in ("<", "{", "document.write"))


def test_a_comment_that_swallows_the_head_leaves_the_articles_h1_not_a_sections():
    page = (
        "<html><head><!-- ad setup <title>Harbour News</title><meta property='og:title' content='x'>"
        f"</head><body> --><h1>Local Teams</h1><h1>{HEADLINE}</h1>{BODY}</body></html>"
    )
    dispatch, _ = _cleaned(page)
    assert dispatch.title == HEADLINE


@pytest.mark.parametrize(
    "candidate",
    ["Purporsaic-alt.css", "<b>Dockers</b> strike", "Tags", "function(a){return a}", " ".join(["word"] * 40)],
)
def test_a_title_that_holds_markup_code_or_a_file_name_or_is_too_long_gives_way_to_the_h1(candidate):
    dispatch, _ = _cleaned(_page(f'<meta property="og:title" content="{candidate}">'))
    assert dispatch.title == HEADLINE


def test_code_and_markup_left_as_text_are_removed_and_recorded_prose_ending_in_a_semicolon_is_kept():
    code = [
        "#ift-banner label.uk{padding:0 6px 0 0;margin:0 0 2px 0;color:#ffffff;}",
        "OAS_AD('Leaderboard');",
        'var _rsCI="bbc";',
        "document.write(_rsCL);",
        '<div class="box"><a href="/">Home</a></div>',
        "break;",
    ]
    prose = "The plan would bring lower business taxes, a new port and more research and development investment;"
    text = "\n".join([PARAGRAPHS[0], *code, prose, PARAGRAPHS[1]])
    dispatch, removals, _ = clean(RawDispatch("desk", "a.txt", text, "text"), CleaningRules())
    assert dispatch.sentences == [PARAGRAPHS[0], prose, PARAGRAPHS[1]]
    assert [(r.text, r.reason) for r in removals] == [(line, "code or markup") for line in code]


# --- the headline ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "decorated, url, headline",
    [
        (
            "Aussies need doubles win at Hopman Cup - ABC News",
            "http://www.abc.net.au/news/stories/1.htm",
            "Aussies need doubles win at Hopman Cup",
        ),
        (
            "Weinstein Co. makes deal with striking writers | Entertainment | Television",
            "http://www.reuters.com/article/1",
            "Weinstein Co. makes deal with striking writers",
        ),
        (
            "CTV Toronto - Police recover body of missing Toronto fisherman",
            "http://toronto.ctv.ca/servlet/an/1",
            "Police recover body of missing Toronto fisherman",
        ),
        (
            "Bloomberg.com: Rice Lauds Iraqi Reconciliation Efforts",
            "http://www.bloomberg.com/apps/news?pid=1",
            "Rice Lauds Iraqi Reconciliation Efforts",
        ),
        (
            "Star-Telegram.com: | 01/08/2008 | Niners hire Martz to turn offense around",
            "http://www.star-telegram.com/528/story/1.html",
            "Niners hire Martz to turn offense around",
        ),
        (
            "T.J. Ford Cleared To Practice : PROTRADE",
            "http://www.protrade.com/content/1",
            "T.J. Ford Cleared To Practice",
        ),
    ],
)
def test_site_and_section_decorations_are_cut_from_a_title(decorated, url, headline):
    assert cut_decorations(decorated, [], url) == headline
    dispatch, _ = _cleaned(_page("", BODY), url, title=decorated)  # a feed's title
    assert dispatch.title == headline


@pytest.mark.parametrize(
    "title",
    [
        "Lyon : le Rhône en crue, les quais fermés",
        "Microsoft and Yahoo agree - the deal that never was, explained by both sides",
        "Anthony Lynn: “We needed to win this game”",
    ],
)
def test_a_headlines_own_dashes_and_colons_are_kept(title):
    assert cut_decorations(title, ["Harbour News"], "https://harbour.example/a") == title


def test_a_site_wide_title_is_no_headline_the_articles_is():
    site_wide = _page("<title>Summit Daily News - 6.0</title>", BODY)
    assert extract_html(site_wide, url="http://www.summitdaily.com/article/20080107/AE/1")[1]["title"] is None
    article = _page(f"<title>Summit Daily News - {HEADLINE}</title>", "<h1>Summit Daily News</h1>" + BODY)
    assert extract_html(article, url="http://www.summitdaily.com/article/20080107/AE/1")[1]["title"] == HEADLINE


# --- the outlet --------------------------------------------------------------------------------------


def test_the_outlet_is_the_publishers_name_the_page_gives_application_name_when_the_domain_agrees():
    page = _page('<meta property="og:site_name" content="Harbour News">')
    assert _cleaned(page)[0].source == "Harbour News"
    json_ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": HEADLINE,
        "publisher": {"@type": "Organization", "name": "The Harbour Gazette"},
    }
    page = _page(f'<script type="application/ld+json">{json.dumps(json_ld)}</script>')
    assert _cleaned(page)[0].source == "The Harbour Gazette"
    assert _cleaned(_page('<meta name="application-name" content="Harbour">'))[0].source == "Harbour"
    # the software's name ("Blogger", "WordPress") is no publisher's
    assert _cleaned(_page('<meta name="application-name" content="Blogger">'))[0].source == "harbour.co.uk"


@pytest.mark.parametrize(
    "named",
    [
        "© 2000 Rural Press Ltd.",
        "Copyright (c) 2008 ABC News Internet Ventures",
        "January 2008",
        "6.0",
        "SignOnSanDiego.com > News",
        "Autoracing | F1 | Indy | MotoGP | StockCar",
        HEADLINE + " for the weekend",
    ],
)
def test_a_site_name_that_is_no_name_gives_way_to_the_domain(named):
    page = _page(f'<meta property="og:site_name" content="{named}"><meta name="copyright" content="{named}">')
    assert _cleaned(page)[0].source == "harbour.co.uk"


def test_without_publisher_metadata_the_outlet_is_the_registrable_domain_not_the_sources_name():
    assert _cleaned(_page(""))[0].source == "harbour.co.uk"
    assert [
        registrable_domain(u)
        for u in (
            "http://news.bbc.co.uk/2/hi/1.stm",
            "https://www.lemonde.fr/a",
            "http://www.smh.com.au/x",
            "http://localhost:8000/a",
            None,
        )
    ] == ["bbc.co.uk", "lemonde.fr", "smh.com.au", "localhost", None]
    assert _cleaned(_page(""), url=None)[0].source == "crawl"  # nothing says who: the source's name


def test_the_records_own_source_then_the_configured_outlet_come_first(tmp_path):
    page = _page('<meta property="og:site_name" content="Harbour News">')
    (tmp_path / "dump.jsonl").write_text(
        json.dumps({"html": page, "url": "https://harbour.co.uk/a"})
        + "\n"
        + json.dumps({"html": page, "source": "AFP"})
        + "\n"
    )
    raws, failures = load_all(SourceSpec(name="crawl", path=tmp_path, outlet="Port Authority Wire"))
    assert not failures and [r.outlet for r in raws] == ["Port Authority Wire", "AFP"]
    assert [clean(r, CleaningRules())[0].source for r in raws] == ["Port Authority Wire", "AFP"]
    raws, _ = load_all(SourceSpec(name="crawl", path=tmp_path))
    assert [clean(r, CleaningRules())[0].source for r in raws] == ["Harbour News", "AFP"]


# --- the date ----------------------------------------------------------------------------------------


def _dated(moment: datetime) -> str:
    return _page(f'<meta property="article:published_time" content="{moment.isoformat()}">')


def test_a_markup_date_after_tomorrow_is_not_believed_tomorrow_is_a_time_zone():
    now = datetime.now(UTC)
    assert _cleaned(_dated(now + timedelta(days=1)))[0].published.date() == (now + timedelta(days=1)).date()
    assert _cleaned(_dated(now + timedelta(days=3)))[0].published is None
    fed = datetime(2026, 11, 26, 18, 40, tzinfo=UTC)  # the feed's or sitemap's date wins
    assert _cleaned(_dated(now + timedelta(days=3)), published=fed)[0].published == fed


@pytest.mark.parametrize("title", ["Winnipeg Sun", "Winnipeg Sun Live", "WINNIPEGSUN.COM"])
def test_the_sites_own_name_is_no_title(title):
    assert cut_decorations(title, [], "http://winnipegsun.com/Sports/2008/01/14/4771511-sun.html") is None
    dispatch, _ = _cleaned(_page(f"<title>{title}</title>", BODY), "http://winnipegsun.com/Sports/1.html")
    assert dispatch.title is None


def test_a_sites_name_set_off_by_a_colon_inside_a_part_and_a_part_of_the_sites_name_are_cut():
    page = _page(
        '<meta property="og:site_name" content="LinkNaija | Nigeria\'s popular news platform">'
        f'<meta property="og:title" content="LinkNaija | Nigeria\'s popular news platform: {HEADLINE}">'
    )
    assert _cleaned(page)[0].title == HEADLINE
    page = _page(f"<title>AKI - Adnkronos international Algeria: {HEADLINE}</title>", BODY)
    assert _cleaned(page, "http://www.adnkronos.com/AKI/English/Security/?id=1.0.1727765543")[0].title == HEADLINE


def test_a_short_title_named_as_a_folder_of_the_url_is_a_section_not_a_headline():
    page = _page("<title>Local Sports Wire</title>", "<h1>Local Sports Wire</h1>" + BODY)
    assert _cleaned(page, "http://wjz.com/localsportswire/22.0.html?type=national")[0].title is None
    page = _page(f"<title>{HEADLINE}</title>", "<h1>Local Sports Wire</h1>" + BODY)
    assert _cleaned(page, "http://wjz.com/localsportswire/22.0.html?type=national")[0].title == HEADLINE


def test_a_title_that_a_broken_head_left_in_the_body_is_read():
    page = (
        '<html><head><meta http-equiv="Content-Type" conte</i></font><p><b>Please support local business!</b>'
        f"</p><TITLE>{HEADLINE} \n </TITLE>\n<font face=arial size=2><b><h3> {HEADLINE}</b></h3>{BODY}"
    )
    assert _cleaned(page)[0].title == HEADLINE


def test_markup_in_a_line_of_prose_is_cut_and_recorded_the_prose_kept_markup_in_a_site_name_is_no_name():
    line = (
        "The city closed the old rail bridge on Thursday, adding that <script>window.x=1</script> had been "
        "scrawled on a barge <iframe src=javascript:x()></iframe> near the pier."
    )
    dispatch, removals, _ = clean(RawDispatch("desk", "a.txt", f"{PARAGRAPHS[0]}\n{line}", "text"), CleaningRules())
    assert dispatch.sentences == [
        PARAGRAPHS[0],
        "The city closed the old rail bridge on Thursday, adding that had been scrawled on a barge near the pier.",
    ]
    assert [(r.text, r.reason) for r in removals] == [
        ("<script>window.x=1</script> <iframe src=javascript:x()> </iframe>", "code or markup")
    ]
    page = _page('<meta property="og:site_name" content="&quot;&gt;&lt;script&gt;x()&lt;/script&gt;Harbour Post">')
    assert _cleaned(page)[0].source == "harbour.co.uk"


def test_a_subdomains_label_is_no_publisher_and_a_site_named_in_brackets_is_cut():
    page = _page('<meta property="og:site_name" content="Hosted">')
    assert _cleaned(page, "https://hosted.ap.org/berkshireeagle/article/6486944b")[0].source == "ap.org"
    page = _page(f"<title>{HEADLINE} (from The Bolton News)</title>", BODY)
    assert _cleaned(page, "http://www.theboltonnews.co.uk/display.var.1935980.0.pace_star")[0].title == HEADLINE
    page = _page('<meta property="og:site_name" content="ProFootballTalk">')
    assert _cleaned(page, "https://profootballtalk.nbcsports.com/2019/11/19/a")[0].source == "ProFootballTalk"
