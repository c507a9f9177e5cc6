import random
from dataclasses import replace
from datetime import UTC, datetime

from tasks.clean import CleaningRules, clean
from tasks.cluster import ClusterOptions, _name_key, cluster, importance
from tasks.sources import SourceSpec
from tests.conftest import SAMPLES
from tests.helpers import load_all, make_dispatch

STRIKE_A = (
    "Dock workers at the Port of Rotterdam walked out on Friday in a 48-hour strike over plans to automate "
    "two container terminals. About 2,000 workers joined the strike, the FNV union said."
)
STRIKE_B = (
    "Dockworkers at the port of Rotterdam began a 48-hour strike on Friday over automation of two terminals. "
    "The FNV union said about 2,000 workers joined the walkout at Europe's busiest port."
)
STRIKE_C = (
    "Container traffic at Rotterdam was halted on Friday as the FNV union's strike against terminal automation "
    "began. Ships were diverted to Antwerp and Hamburg."
)
CHESS = (
    "A 17-year-old from Uzbekistan won the world rapid chess championship in Doha on Friday. "
    "The final was decided by a blunder in the second tie-break game."
)
GRAEVE_FR = (
    "Les dockers du port de Rotterdam ont entamé vendredi une grève de 48 heures contre l'automatisation "
    "de deux terminaux à conteneurs, selon le syndicat FNV."
)


def test_one_event_three_outlets_is_one_story_with_three_sources():
    dispatches = [
        make_dispatch(t, outlet=o, language="en")
        for t, o in [(STRIKE_A, "Reuters"), (STRIKE_B, "AP"), (STRIKE_C, "AFP"), (CHESS, "AFP")]
    ]
    stories = cluster(dispatches, ClusterOptions())
    assert [s.sources for s in stories] == [["AFP", "AP", "Reuters"], ["AFP"]]
    assert stories[0].importance > stories[1].importance


def test_two_events_same_outlet_stay_apart():
    stories = cluster(
        [make_dispatch(STRIKE_A, "AFP", language="en"), make_dispatch(CHESS, "AFP", language="en")], ClusterOptions()
    )
    assert len(stories) == 2


def test_french_and_english_on_one_event_stay_two_stories():
    stories = cluster(
        [make_dispatch(STRIKE_A, "Reuters", language="en"), make_dispatch(GRAEVE_FR, "AFP", language="fr")],
        ClusterOptions(),
    )
    assert sorted(len(s.dispatches) for s in stories) == [1, 1]


def test_order_of_input_does_not_change_stories():
    dispatches = [
        make_dispatch(t, outlet=o, language="en")
        for t, o in [(STRIKE_A, "Reuters"), (CHESS, "AFP"), (STRIKE_B, "AP"), (STRIKE_C, "AFP")]
    ]
    first = [[d.id for d in s.dispatches] for s in cluster(dispatches, ClusterOptions())]
    second = [[d.id for d in s.dispatches] for s in cluster(list(reversed(dispatches)), ClusterOptions())]
    assert first == second


def test_headline_is_the_title_most_shared_with_the_story_else_a_short_lead():
    titled = make_dispatch(STRIKE_A, "Reuters", title="Rotterdam dockers strike", published="2026-11-27T10:00:00Z")
    later = make_dispatch(STRIKE_B, "AP", title="Strike at Rotterdam", published="2026-11-27T12:00:00Z")
    [story] = cluster([later, titled], ClusterOptions())
    assert story.headline == "Strike at Rotterdam"  # both texts say "strike" and "Rotterdam"; neither says "dockers"
    assert story.first_published < story.last_published
    [untitled] = cluster([make_dispatch(CHESS, "AFP")], ClusterOptions(headline_words=6))
    assert untitled.headline == "A 17-year-old from Uzbekistan won the …"


def test_older_story_is_less_important():
    now = datetime(2026, 11, 28, 6, tzinfo=UTC)
    fresh = make_dispatch(STRIKE_A, "Reuters", published="2026-11-28T05:00:00Z")
    stale = make_dispatch(CHESS, "AFP", published="2026-11-26T05:00:00Z")
    stories = cluster([stale, fresh], ClusterOptions(), now=now)
    assert stories[0].dispatches[0] is fresh
    assert importance(stories[0], now) > importance(stories[1], now)


def test_bundled_samples_make_four_stories():
    raws, _ = load_all(SourceSpec(name="samples", path=SAMPLES))
    dispatches = [clean(r, CleaningRules())[0] for r in raws]
    stories = cluster(dispatches, ClusterOptions())
    assert sorted(s.sources for s in stories) == [["AFP"], ["AFP"], ["AFP", "Le Courrier du Rhône"], ["AP", "Reuters"]]


def test_seeds_are_one_story(seeds):
    from tasks.sources import load_file

    dispatches = [clean(load_file(p, p.stem)[0], CleaningRules())[0] for p in seeds]
    [story] = cluster(dispatches, ClusterOptions())
    assert story.sources == sorted(p.stem for p in seeds)


def _titled(dispatch, title: str, url: str):
    """The dispatch under a page's title as it came: cleaning may cut the obvious site names itself."""
    return replace(dispatch, title=title, url=url)


def test_headline_is_a_real_title_not_a_tag_file_or_site_name():
    pages = [
        ("<b>Dockers strike at the port of Rotterdam</b>", "https://example.net/0"),
        ("Tags", "https://indiainteracts.com/a"),
        ("Purporsaic-alt.css", "https://example.org/b"),
        ("Winona Daily News", "https://www.winonadailynews.com/c"),
        ("Local Teams", "https://www.ktvu.com/d"),
        ("Dockers strike at the port of Rotterdam", "https://example.com/e"),
    ]
    texts = [STRIKE_B, STRIKE_A, STRIKE_B, STRIKE_C, STRIKE_A, STRIKE_B]
    dispatches = [
        _titled(make_dispatch(text, f"Outlet {n}", published=f"2026-11-27T0{n}:00:00Z", language="en"), title, url)
        for n, ((title, url), text) in enumerate(zip(pages, texts))
    ]
    [story] = cluster(dispatches, ClusterOptions())
    assert story.headline == "Dockers strike at the port of Rotterdam"


def test_a_site_name_or_section_as_the_only_title_gives_way_to_the_lead():
    lead = "Dock workers at the Port of Rotterdam walked out on Friday in a 48-hour strike over …"
    for title, url in [
        ("Winona Daily News", "https://www.winonadailynews.com/a"),
        ("Brandon Sun Online", "https://www.brandonsun.com/b"),
        ("SpringfieldNewsSun.com", "https://springfieldnewssun.com/c"),
        ("Sponsored Links", "https://www.nbc11.com/d"),
        ("Reuters", "https://example.org/e"),
    ]:
        [story] = cluster([_titled(make_dispatch(STRIKE_A, "Reuters", language="en"), title, url)], ClusterOptions())
        assert story.headline == lead, title
    real = _titled(
        make_dispatch(STRIKE_A, "Reuters", language="en"),
        "Winona dockers join the Rotterdam strike",
        "https://www.winonadailynews.com/f",
    )
    assert cluster([real], ClusterOptions())[0].headline == "Winona dockers join the Rotterdam strike"


def test_two_dispatches_of_one_outlet_count_once():
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    twice = [
        make_dispatch(text, "Reuters", published="2026-11-27T10:00:00Z", language="en") for text in (STRIKE_A, STRIKE_B)
    ]
    again = make_dispatch(STRIKE_C, " REUTERS", published="2026-11-27T10:00:00Z", language="en")
    once = make_dispatch(CHESS, "Reuters", published="2026-11-27T10:00:00Z", language="en")
    strike, chess = sorted(cluster([*twice, again, once], ClusterOptions(), now=now), key=lambda s: -len(s.dispatches))
    assert len(strike.dispatches) == 3 and strike.sources == ["Reuters"]
    assert importance(strike, now) == importance(chess, now)


def test_a_title_that_pages_of_two_stories_carry_is_the_template_s_not_a_headline():
    """ "Friday News Wire" heads every page of a site's wire, whatever the story: it names none."""
    wire = [
        _titled(make_dispatch(text, "CBS", language="en"), "Friday News Wire", f"https://wjz.com/{n}")
        for n, text in enumerate((STRIKE_A + " " + STRIKE_C, CHESS))
    ]
    stories = cluster(wire, ClusterOptions())
    assert len(stories) == 2 and "Friday News Wire" not in {s.headline for s in stories}
    wire_copy = [
        _titled(make_dispatch(text, outlet, language="en"), "Rotterdam dockers strike for two days", url)
        for text, outlet, url in ((STRIKE_A, "AP", "https://ap.example/1"), (STRIKE_B, "WJZ", "https://wjz.com/2"))
    ]
    [story] = cluster(wire_copy, ClusterOptions())
    assert story.headline == "Rotterdam dockers strike for two days"  # one story's title, as two outlets ran it


GAME_A = (
    "Sidney Crosby scored twice as the Pittsburgh Penguins beat the New York Rangers 4-2 in the NHL on Saturday "
    "night at Madison Square Garden. Evgeni Malkin added a goal and two assists, and Marc-Andre Fleury made 31 "
    "saves for Pittsburgh, which has won five straight. Henrik Lundqvist stopped 28 shots for the Rangers."
)
GAME_A2 = (
    "The Penguins won their fifth game in a row on Saturday night, 4-2 over the Rangers, with two goals from Sidney "
    "Crosby. Malkin scored once and set up two more, and Fleury turned aside 31 shots in New York."
)
GAME_B = (
    "Zdeno Chara scored in overtime as the Boston Bruins beat the Montreal Canadiens 3-2 in the NHL on Saturday "
    "night at the Bell Centre. Patrice Bergeron had a goal and an assist, and Tim Thomas made 35 saves for "
    "Boston, which has won four straight. Carey Price stopped 30 shots for the Canadiens."
)
GAME_B2 = (
    "The Bruins won their fourth game in a row on Saturday night, 3-2 in overtime over the Canadiens, on a goal from "
    "Zdeno Chara. Bergeron scored once and set up another, and Thomas turned aside 35 shots in Montreal."
)


def test_two_games_of_one_league_on_one_night_stay_two_stories():
    dispatches = [
        make_dispatch(text, outlet, published="2026-11-28T23:30:00Z", language="en")
        for text, outlet in [(GAME_A, "AP"), (GAME_A2, "Reuters"), (GAME_B, "AP"), (GAME_B2, "Reuters")]
    ]
    stories = cluster(dispatches, ClusterOptions())
    assert sorted(sorted(d.text[:12] for d in s.dispatches) for s in stories) == [
        sorted([GAME_A[:12], GAME_A2[:12]]),
        sorted([GAME_B[:12], GAME_B2[:12]]),
    ]


def test_one_event_under_three_headlines_from_three_outlets_is_one_story():
    dispatches = [
        make_dispatch(text, outlet, title=title, published=time, language="en")
        for text, outlet, title, time in [
            (STRIKE_A, "Reuters", "Rotterdam dockers walk out over automation", "2026-11-27T08:00:00Z"),
            (STRIKE_B, "AP", "Europe's busiest port hit by 48-hour stoppage", "2026-11-27T09:30:00Z"),
            (STRIKE_C, "AFP", "Ships diverted to Antwerp as FNV action begins", "2026-11-27T11:00:00Z"),
            (CHESS, "AFP", "Teenager takes rapid chess crown in Doha", "2026-11-27T10:00:00Z"),
        ]
    ]
    stories = cluster(dispatches, ClusterOptions())
    assert [s.sources for s in stories] == [["AFP", "AP", "Reuters"], ["AFP"]]


STORM = [
    (
        "Hurricane Melissa made landfall in western Jamaica on Tuesday as a category 4 storm, with winds of 230 km/h. "
        "The government of Prime Minister Andrew Holness ordered the evacuation of low-lying parts of Montego Bay.",
        "2026-11-24T18:00:00Z",
    ),
    (
        "Jamaica counted the damage from Hurricane Melissa on Wednesday: roofs torn off in Montego Bay, roads cut in "
        "Westmoreland and 300,000 homes without power, Prime Minister Andrew Holness said.",
        "2026-11-25T15:00:00Z",
    ),
    (
        "Three days after Hurricane Melissa struck Jamaica, the first aid flights landed in Montego Bay on Thursday. "
        "Prime Minister Andrew Holness said power was back for half of the 300,000 homes cut off in Westmoreland.",
        "2026-11-26T20:00:00Z",
    ),
]


def test_a_storyline_over_three_days_is_one_story_and_a_week_later_another():
    dispatches = [
        make_dispatch(text, outlet, published=time, language="en")
        for (text, time), outlet in zip(STORM, ["AP", "Reuters", "AFP"])
    ]
    stories = cluster(
        [*dispatches, make_dispatch(CHESS, "AFP", published="2026-11-25T10:00:00Z", language="en")], ClusterOptions()
    )
    assert sorted(len(s.dispatches) for s in stories) == [1, 3]
    week_later = make_dispatch(STORM[1][0], "BBC", published="2026-12-03T15:00:00Z", language="en")
    stories = cluster([*dispatches, week_later], ClusterOptions())
    assert sorted(len(s.dispatches) for s in stories) == [1, 3]  # a story spans days, not weeks


def test_a_second_version_of_an_article_joins_its_story():
    first = make_dispatch(
        STRIKE_A, "Reuters", title="Rotterdam dockers strike", published="2026-11-27T08:00:00Z", language="en"
    )
    update = make_dispatch(
        "Ships queued off Rotterdam on Friday evening, hours into the dockers' 48-hour strike. " + STRIKE_A,
        "Reuters",
        title="UPDATE 1-Rotterdam dockers strike, ships queue",
        published="2026-11-27T17:00:00Z",
        language="en",
    )
    stories = cluster(
        [first, update, make_dispatch(STRIKE_B, "AP", published="2026-11-27T09:00:00Z", language="en")],
        ClusterOptions(),
    )
    assert len(stories) == 1 and stories[0].sources == ["AP", "Reuters"]


def test_a_dispatch_between_two_events_does_not_chain_them():
    """A round-up of the strike and the chess final is close to both; the strike and the chess stay apart."""
    roundup = make_dispatch(STRIKE_A + " " + CHESS, "Wire", language="en")
    dispatches = [
        make_dispatch(t, o, language="en") for t, o in [(STRIKE_A, "Reuters"), (STRIKE_B, "AP"), (CHESS, "AFP")]
    ]
    stories = cluster([*dispatches, roundup], ClusterOptions())
    assert not any({"AP", "AFP"} <= set(s.sources) for s in stories)


def test_stories_do_not_depend_on_input_order():
    dispatches = [
        make_dispatch(text, outlet, published=time, language="en")
        for text, outlet, time in [
            (GAME_A, "AP", "2026-11-28T23:30:00Z"),
            (GAME_A2, "Reuters", None),
            (GAME_B, "AP", "2026-11-28T23:30:00Z"),
            (GAME_B2, "Reuters", "2026-11-28T23:45:00Z"),
            (STRIKE_A, "Reuters", None),
            (STRIKE_B, "AP", None),
            (STRIKE_C, "AFP", "2026-11-27T11:00:00Z"),
            (CHESS, "AFP", None),
        ]
    ] + [make_dispatch(text, outlet, published=time, language="en") for (text, time), outlet in zip(STORM, "ABC")]
    expected = [[d.id for d in s.dispatches] for s in cluster(dispatches, ClusterOptions())]
    for seed in range(5):
        shuffled = random.Random(seed).sample(dispatches, len(dispatches))
        assert [[d.id for d in s.dispatches] for s in cluster(shuffled, ClusterOptions())] == expected


PUTIN_EN = (
    "Vladimir Putin met Volodymyr Zelenskyy in Istanbul on Monday, 14 December, for talks on the exchange of "
    "1,200 prisoners, Turkish President Recep Tayyip Erdogan said."
)
PUTIN_FR = (
    "Vladimir Poutine a rencontré Volodymyr Zelensky lundi 14 décembre à Istanbul pour discuter de l'échange de "
    "1 200 prisonniers, a annoncé le président turc Recep Tayyip Erdogan."
)


def test_across_languages_a_story_shares_its_names_and_numbers_when_asked():
    dispatches = [
        make_dispatch(PUTIN_EN, "Reuters", language="en"),
        make_dispatch(PUTIN_FR, "AFP", language="fr"),
        make_dispatch(GRAEVE_FR, "Le Monde", language="fr"),
    ]
    assert len(cluster(dispatches, ClusterOptions())) == 3
    stories = cluster(dispatches, ClusterOptions(cross_language=True))
    assert sorted(s.sources for s in stories) == [["AFP", "Reuters"], ["Le Monde"]]
    assert _name_key("poutine") == _name_key("putin") and _name_key("zelensky") == _name_key("zelenskyy")


def _synthetic_day(count: int, seed: int = 3) -> list:
    """`count` dispatches on unrelated events: each a few words of a common stock (as any two stories share)
    and names and numbers of its own, in 20 hours of one day."""
    from tasks.models import Block, Dispatch

    rng = random.Random(seed)
    common = [
        f"{a}{b}"
        for a in ("mar", "ket", "pol", "gov", "lab", "tra", "cou", "vot")
        for b in ("ers", "ing", "ion", "ment", "ance", "ity", "ure", "ship")
    ]
    dispatches = []
    for n in range(count):
        own = [f"Zq{n}x{k}" for k in range(4)] + [str(10_000 + n)]
        sentences = tuple(" ".join(rng.sample(common, 6) + rng.sample(own, 2)) + "." for _ in range(3))
        dispatches.append(
            Dispatch(
                f"d{n}",
                f"Outlet {n % 40}",
                f"synthetic:{n}",
                (Block(sentences),),
                "en",
                published=datetime(2026, 11, 27, tzinfo=UTC).replace(hour=n % 20, minute=n % 60),
            )
        )
    return dispatches


def test_candidates_find_a_planted_pair_among_many_unrelated_dispatches():
    """Two accounts of one event among 20,000 dispatches on others: the index of rare terms finds the pair,
    and the pairs put forward for a product stay a bounded number a dispatch, not every pair (200 million)."""
    import numpy as np

    import tasks.cluster as module

    day = _synthetic_day(20_000)
    planted = [
        make_dispatch(STRIKE_A, "Reuters", published="2026-11-27T08:00:00Z", language="en"),
        make_dispatch(STRIKE_B, "AP", published="2026-11-27T09:00:00Z", language="en"),
    ]
    dispatches = [*day[:7_000], planted[0], *day[7_000:15_000], planted[1], *day[15_000:]]
    options = ClusterOptions()
    ordered = sorted(dispatches, key=module._order_key)
    vectors, _ = module.vectorise(ordered, options)
    first, second = sorted(ordered.index(d) for d in planted)
    i, j = module.candidates(
        vectors, np.zeros(len(ordered), dtype=np.int64), module._times(ordered), options.span_hours
    )
    assert first * len(ordered) + second in set((i * len(ordered) + j).tolist())
    assert len(i) <= module.CANDIDATES * len(ordered)  # each dispatch puts forward CANDIDATES pairs at most
    scored = []
    products = module._products
    module._products = lambda vectors, i, j: scored.append(len(i)) or products(vectors, i, j)
    try:
        groups = module.group(dispatches, options)
    finally:
        module._products = products
    assert sum(scored) <= module.CANDIDATES * len(dispatches)
    assert [dispatches.index(d) for d in planted] in groups
