"""The checks of bench/realworld.py (issue 17's table) on constructed examples, and the bench end to end."""

import json
import subprocess
import sys

import pytest

from bench.realworld import (
    Page,
    PageNames,
    crawl_day,
    headline_problem,
    judge,
    judge_story,
    language_problem,
    markup,
    outlet_problem,
    page_names,
    same_thing,
    sentence_problem,
)
from tests.conftest import ROOT, shared_path

CLEAN_STORY = {
    "id": 1,
    "headline": "Council approves new harbour budget after long debate",
    "language": "en",
    "dispatches": [
        {
            "id": "a",
            "source": "Harbour Times",
            "url": "https://harbourtimes.example/budget",
            "title": "Council approves new harbour budget after long debate",
            "language": "en",
        },
        {
            "id": "b",
            "source": "bbc.co.uk",
            "url": "https://www.bbc.co.uk/news/budget",
            "title": "Harbour budget passes",
            "language": "en",
        },
    ],
    "summary": [
        {
            "text": "The city council approved the harbour budget on Tuesday after a six-hour debate.",
            "from": [{"url": "https://harbourtimes.example/budget"}],
        },
        {
            "text": "Dock workers said the money would pay for two new cranes and a safer quay.",
            "from": [{"url": "https://www.bbc.co.uk/news/budget"}],
        },
    ],
}


def test_a_clean_story_is_not_flagged():
    assert judge_story(CLEAN_STORY, {}, "2026-11-27#1") == []


def test_markup_in_a_headline_outlet_or_sentence():
    assert markup("<script>var s = document.title;</script>").startswith("tag")
    assert markup("#nav { margin: 0; padding: 0; }").startswith("CSS")
    assert markup("Tom &amp; Jerry return").startswith("raw entity")
    assert markup("if (window.innerWidth > 600) {").startswith("script")
    assert markup("Shares rose 5% to $12 (a record) on Monday; traders cheered.") is None
    story = CLEAN_STORY | {"headline": "<script>var s = 1;</script> Storm hits coast"}
    assert {o.rule for o in judge_story(story, {}, "k")} >= {"markup", "headline"}


@pytest.mark.parametrize(
    "outlet, why",
    [
        ("© 2000 Rural Press Ltd.", "a copyright line"),
        ("Copyright Reuters, all rights reserved", "a copyright line"),
        ("crawl", "the files source's own name"),
        ("January 2008", "a date"),
        ("2008-01-14", "a date"),
        ("6.0", "a number or version"),
        ("Council approves new harbour budget after long debate", "more than six words"),
        ("Harbour budget passes", "the page's title"),
        ("News | World | Europe", "a section path"),
        ("", "empty"),
        ("Winnipeg Sun 2004", "holds a year (a copyright line's)"),
        ("Goal.com - Chelsea", "a section path"),
        ("Welcome to www.dailyrecord.com", "a greeting"),
        ("from planet-f1.com", "begins like a phrase, not a name"),
        ("Hosted", "a subdomain's label, not the publisher"),
        ("Council budget passes after debate", "the page's title"),
    ],
)
def test_outlets_that_are_not_publishers(outlet, why):
    titles = ["Harbour budget passes", "Council budget passes after debate - Harbour Times"]
    assert outlet_problem(outlet, titles, "https://hosted.ap.org/story/1") == why


@pytest.mark.parametrize(
    "outlet",
    [
        "BBC News",
        "bbc.co.uk",
        "Le Monde",
        "Apple Inc.",
        "Yahoo! News",
        "The Times of India",
        "Harbour Times",
        "Nj",
        "autosport.com",
        "the Guardian",
        "pv magazine International",
    ],
)
def test_publishers_names_pass(outlet):
    assert outlet_problem(outlet, ["Harbour budget passes - Harbour Times"], "https://www.bbc.co.uk/news/1") is None


@pytest.mark.parametrize(
    "headline, why",
    [
        ("Tags", "fewer than three words"),
        ("Purporsaic-alt.css", "a file name"),
        ("Local Teams", "fewer than three words"),
        ("A Netsports Site", "a site or section name"),
        (
            "The body would examine the Iranian president's offer of …",
            "a cut lead while a page holds a title ('a title')",
        ),
        ("January 08, 2008", "a date"),
        ("Monday, January 14, 2008 (Mumbai):", "a date"),
        (
            "The Human Genetics Commission will oversee the review of the database.",
            "a cut lead while a page holds a title ('a title')",
        ),
    ],
)
def test_headlines_that_are_not_titles(headline, why):
    assert headline_problem(headline, []) == why


def test_a_cut_lead_is_a_headline_only_when_no_page_holds_a_title():
    story = CLEAN_STORY | {"headline": "The city council approved the harbour budget on Tuesday after a six-hour …"}
    assert [o.why for o in judge_story(story, {}, "k")] == [
        f"a cut lead while a page holds a title ({CLEAN_STORY['headline']!r})"
    ]
    untitled = story | {"dispatches": [d | {"title": None} for d in story["dispatches"]]}
    assert judge_story(untitled, {}, "k") == []


def test_a_site_decoration_left_on_a_headline():
    sites = ["abc.net.au", "abc"]
    assert "decoration" in headline_problem("Aussies need doubles win at Hopman Cup - ABC News", sites)
    assert "decoration" in headline_problem("Stars shine | Entertainment | Television", [])
    assert "decoration" in headline_problem("Bloomberg.com: Stocks fall as oil climbs", [])
    assert "decoration" in headline_problem("Bulls draft pick arrested in Chicago | Breaking news", [])
    assert "decoration" in headline_problem(
        "Snake saved after eating golf balls -- Page 1 -- Times Union - Albany NY", []
    )
    assert "decoration" in headline_problem("Hit-and-run victim pleads for help - Breaking News - National", [])
    assert "decoration" in headline_problem("Struggle to contain WA bushfire - National - General", [])
    assert "decoration" in headline_problem("Fresh warning from bin Laden - World", [])
    assert "decoration" in headline_problem("The Calgary Sun online - News, Sports and Entertainment", [])
    assert "decoration" in headline_problem("Pace star's Bollywood adventure (from The Bolton News)", [])
    assert "decoration" in headline_problem("Modi to meet Amma over lunch today / Online News @ TheCheers", [])
    assert headline_problem("The Times Leader", ["timesleader.com", "timesleader"]) == "the site's name"
    assert headline_problem("Obama - the man - and the long road to the White House", []) is None
    assert headline_problem("Daily Deals: More Black Friday deals are live", []) is None
    assert headline_problem("Man dies in crash on the ring road - police", []) is None
    assert headline_problem("Stocks slide on oil fears - Dow down 200 points today", []) is None
    assert headline_problem("Aussies need doubles win at Hopman Cup", sites) is None


@pytest.mark.parametrize(
    "sentence, why",
    [
        ("All rights reserved.", "boilerplate"),
        ("Click here to bet on tonight's game with the best odds.", "boilerplate"),
        ("(Reporting by Jane Doe; Editing by John Roe)", "boilerplate"),
        ("More...", "boilerplate"),
        (
            "Singer Amy Winehouse arrives at the awards in Los Angeles, in this June 3, 2007, file photo.",
            "a photo caption",
        ),
        ("OTTAWA - The government lost a confidence vote on Tuesday night.", "a dateline"),
        ("NEW YORK, NY (Sports Network) - The Knicks lost again on Monday night.", "a dateline"),
        ("- The Knicks lost again on Monday night at home.", "a dateline"),
        ("drawn to play fourth seeded Mauresmo in the semi-finals on Friday.", "a fragment: lower-case start"),
        ("He added.", "a fragment: under six words"),
        ("The minister listed three reasons for the delay in his statement:", "a lead-in (ends with a colon)"),
        (" ".join(["The council met and the workers waited outside the hall"] * 9) + ".", "glued lines (90 words)"),
        ("(Sports Network) - The Celtics will try to avoid losing two games in a row.", "a dateline"),
        ("WASHINGTON (AP) Congress is asking the Justice Department to investigate.", "a dateline"),
        ("Fairfield (AP) _ Investigators looking into a fire also have a car-theft case.", "a dateline"),
        ("By LESLIE BREFELD Summit Daily News January 17, 2008 Comments Print Email I caught the film.", "boilerplate"),
        ("AP Photo XAN101, GFX729 AP Graphic YEMEN ATTACK By AHMED AL-HAJ Associated Press Writer.", "a photo caption"),
        ("Cover image: the lighting installation by a design studio at the festival.", "a photo caption"),
        ("As always, you are welcome to email us at info@example.org with your questions.", "boilerplate"),
        (
            "The Trojans resume their conference schedule tonight against the fifth-ranked team",
            "a fragment: no end punctuation (cut, or a heading)",
        ),
    ],
)
def test_sentences_an_editor_would_strike(sentence, why):
    assert sentence_problem(sentence, "en") == why


def test_sentences_that_stand_alone_pass():
    assert sentence_problem("The president signed the bill on Tuesday, his aides said.", "en") is None
    assert sentence_problem("Le gouvernement a présenté mardi son projet de budget pour 2027.", "fr") is None
    assert sentence_problem("iPhone sales rose by a third in the quarter, the company said.", "en") is None
    assert sentence_problem("So why should one sign up for BigAdda rather than Orkut or Facebook?", "en") is None
    assert sentence_problem("The port was in development for several months, but not any more...", "en") is None
    assert sentence_problem("The band asked for the copyright of its catalogue to be returned to it.", "en") is None
    assert sentence_problem("\"It's a second life that a lot of people don't get.\"", "en") is None


def test_two_sentences_saying_the_same_thing():
    assert same_thing(
        "The council approved the harbour budget on Tuesday evening.",
        "On Tuesday evening the council approved the harbour budget.",
    )
    assert not same_thing(
        "New Zealand beat Bangladesh by 102 runs in Napier on Friday.",
        "It was their highest one-day score against Bangladesh in New Zealand.",
    )
    assert not same_thing("Viera (4-0): Kim Hupfer scored 1 goal.", "Viera (3-0): Talorie Crafton scored 1 goal.")
    assert not same_thing(
        "A spokesperson said that “we have received an inquiry from the office of the New York State "
        "Attorney General and are cooperating in the matter.”",
        "The New York State Attorney General’s office had no comment.",
    )


def test_a_story_in_another_language_than_its_label():
    russian = "Президент России заявил во вторник, что правительство рассмотрит новые меры поддержки экономики."
    assert language_problem(russian, "en").startswith("ru")
    assert language_problem(CLEAN_STORY["summary"][0]["text"] + " " + CLEAN_STORY["summary"][1]["text"], "en") is None


def test_counts_are_of_stories_dispatches_and_sentences():
    bad = CLEAN_STORY | {
        "id": 2,
        "headline": "Tags",
        "summary": [{"text": "All rights reserved."}, {"text": "Click here to subscribe now."}],
    }
    verdict = judge({"date": "2026-11-27", "stories": [CLEAN_STORY, bad]}, {})
    assert (verdict.counts["headline"], verdict.counts["sentence"]) == (1, 2)
    assert (verdict.totals["stories"], verdict.totals["dispatches"], verdict.totals["sentences"]) == (2, 4, 4)


def test_page_names_and_the_crawl_day():
    html = (
        '<html><head><title>Budget passes - Harbour Times</title><meta property="og:site_name" '
        'content="Harbour Times"></head><body><h1>Budget passes</h1></body></html>'
    )
    assert page_names(html) == PageNames(("Budget passes - Harbour Times", "Budget passes"), "Harbour Times")
    pages = [Page("x", "http://a.example/2008/01/14/story.html", ""), Page("x", "http://a.example/2008-13-01/x", "")]
    assert crawl_day(pages).isoformat() == "2008-01-14"


@pytest.mark.prefect
def test_the_bench_end_to_end_on_five_real_pages(tmp_path):
    pages = shared_path("bench", "extraction", "aeb.dev.jsonl.gz")
    out = tmp_path / "realworld.json"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "realworld.py"),
            "--pages",
            str(pages),
            "--limit",
            "5",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| stories whose headline is not an article title |" in run.stdout
    figures = json.loads(out.read_text())
    assert figures["runs"][0]["pages"] == 5 and figures["runs"][0]["flow"]["read"] == 5
    assert figures["totals"]["stories"] >= 1 and figures["runs"][0]["identical"]
