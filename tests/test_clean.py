import asyncio
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from tasks.clean import Cleaner, CleaningRules, clean, fingerprint, normalise
from tasks.models import Digest, RawDispatch, RunReport
from tasks.render import to_markdown
from tasks.sources import load_file
from tests.conftest import SAMPLES
from tests.helpers import KillsItsReader, SlowToRead, cleaned, make_dispatch, raw_dispatch


def test_normalise_keeps_accents_and_typographic_quotes_but_plain_hyphens_and_spaces():
    assert normalise("Maison\u2011Blanche\u00a0: « l’été »\u200b\x07") == "Maison-Blanche : « l’été »"


def test_fingerprint_ignores_case_spacing_and_punctuation():
    assert fingerprint("Le  Sénat, a voté.") == fingerprint("le sénat a voté")
    assert fingerprint("Le Sénat a voté.") != fingerprint("Le Sénat n'a pas voté.")


def test_captions_credits_datelines_signatures_and_headings():
    text = (
        "Le président russe Vladimir Poutine à Moscou, le 18 août 2025 ( POOL / Viacheslav PROKOFIEV )\n\n"
        "PARIS (AFP) - Le gouvernement a présenté mercredi son projet de loi sur l’énergie.\n\n"
        '- "Concessions territoriales" -\n\n'
        "Lire aussi : Le nucléaire en débat\n\n"
        "Le texte sera examiné en janvier par les députés, a précisé le ministre.\n\n"
        "Un titre intermédiaire sans point\n\n"
        "lb/abc/ybl\n"
    )
    dispatch, removals, failure = cleaned(text)
    assert failure is None
    assert dispatch.sentences == [
        "Le gouvernement a présenté mercredi son projet de loi sur l’énergie.",
        "Le texte sera examiné en janvier par les députés, a précisé le ministre.",
    ]
    assert [b.text for b in dispatch.blocks if b.heading] == [
        '"Concessions territoriales"',
        "Un titre intermédiaire sans point",
    ]
    reasons = sorted(r.reason for r in removals)
    assert reasons == ["boilerplate line", "boilerplate line", "photo caption or credit"]
    assert dispatch.language == "fr"


@pytest.mark.parametrize(
    "first, kept",
    [
        ("LONDON — The Bank of England held rates on Thursday.", "The Bank of England held rates on Thursday."),
        ("NEW YORK, Nov. 27 -- Stocks rose for a third day.", "Stocks rose for a third day."),
        ("Texas, États-Unis -- Le soldat a été déclaré coupable.", "Le soldat a été déclaré coupable."),
        ("Meadow Lake, Saskatchewan – Le conseil municipal a voté.", "Le conseil municipal a voté."),
        # Not datelines: a name and a lower-case title; a mixed-case opening without a region.
        (
            "Emmanuel Macron, président de la République — a-t-il dit — veut un accord.",
            "Emmanuel Macron, président de la République — a-t-il dit — veut un accord.",
        ),
        (
            "Le Monde — comme d’autres titres — a publié la lettre.",
            "Le Monde — comme d’autres titres — a publié la lettre.",
        ),
    ],
)
def test_datelines_without_an_agency(first, kept):
    dispatch, _, _ = cleaned(f"{first}\n\nLe texte continue ici avec une deuxième phrase complète.")
    assert dispatch.sentences[0] == kept


def test_english_wire_copy():
    text = (
        "Containers at the port, November 26, 2026. REUTERS/Piroschka van de Wouw\n\n"
        "WASHINGTON, Aug 20 (Reuters) - The Senate passed the bill on Tuesday by 60 votes to 40.\n\n"
        "Photo: John Smith/AP\n\n"
        "Read more: What the bill means for you\n\n"
        "Subscribe to our newsletter for the best of the day.\n\n"
        "The measure now goes to the House, where its fate is unclear.\n\n"
        "Reporting by Jane Doe; Editing by John Roe\n\n"
        "By Mike Corder\n"
    )
    dispatch, removals, _ = cleaned(text)
    assert dispatch.sentences == [
        "The Senate passed the bill on Tuesday by 60 votes to 40.",
        "The measure now goes to the House, where its fate is unclear.",
    ]
    assert len(removals) == 6
    assert dispatch.language == "en"


def test_inline_photo_credit_is_cut_but_sentence_kept():
    dispatch, _, _ = cleaned("Le ministre (Photo AFP) a annoncé sa démission mardi soir devant la presse.")
    assert dispatch.sentences == ["Le ministre a annoncé sa démission mardi soir devant la presse."]


def test_nothing_left_is_a_failure_not_an_exception():
    dispatch, _, failure = cleaned("(Photo AFP)\n\nab/cd\n")
    assert dispatch is None and failure.reason == "no news text left after cleaning"
    dispatch, _, failure = clean(RawDispatch("s", "page.html", "<html><body></body></html>", "html"), CleaningRules())
    assert dispatch is None and failure.reason == "no text after extraction"


def test_html_goes_through_trafilatura_with_metadata():
    [raw] = load_file(SAMPLES / "lyon-crue-progres.html", "samples")
    dispatch, _, failure = clean(raw, CleaningRules())
    assert failure is None
    assert dispatch.source == "Le Courrier du Rhône"
    assert dispatch.title.startswith("Lyon : le Rhône en crue")
    assert dispatch.published.isoformat() == "2026-11-27T09:15:00+01:00"
    assert dispatch.url == "https://courrier-du-rhone.example/lyon/crue-rhone-quais-fermes"
    text = dispatch.text
    assert "Accueil" not in text and "newsletter" not in text and "Photo" not in text
    assert "« On a l’habitude, mais jamais aussi vite »" in text


def test_seeds_captions_gone_date_read(seeds: list[Path]):
    first, second = (clean(load_file(p, p.stem)[0], CleaningRules()) for p in seeds)
    dispatch, removals, _ = first
    assert dispatch.published.date().isoformat() == "2025-08-19"
    assert "date" not in dispatch.text[:10] and "Photo AFP" not in dispatch.text and "Mark Rutte" not in dispatch.text
    assert [r.text for r in removals] == ["Mark Rutte (Photo AFP)"]
    assert "Maison-Blanche" in dispatch.text and "l’Ukraine" in dispatch.text
    dispatch, removals, _ = second
    assert len(removals) == 4 and all(r.reason == "photo caption or credit" for r in removals)
    for credit in ("( AFP /", "( POOL /", "Mandel NGAN", "Guillermo RIVAS"):
        assert credit not in dispatch.text
    assert ['"Concessions territoriales"'] == [b.text for b in dispatch.blocks if b.heading]
    assert dispatch.language == "fr"


def _page(n: int) -> RawDispatch:
    html = (
        f"<html><head><title>Page {n}</title></head><body><nav>Menu</nav><article><h1>Page {n}</h1>"
        f"<p>Le conseil municipal numéro {n} a voté mardi un budget de {n} millions d’euros pour les écoles.</p>"
        f"<p>La séance a duré {n} heures, a précisé la mairie dans un communiqué publié mercredi.</p>"
        "</article></body></html>"
    )
    return raw_dispatch(html, "html", source="site", location=f"https://example.org/{n}")


@pytest.mark.slow  # worker processes
def test_cleaner_in_worker_processes_gives_the_same_dispatches_in_key_order(monkeypatch):
    monkeypatch.setattr(Cleaner, "INLINE_FIRST", 2)
    rules = CleaningRules(workers=2)
    pages = [_page(n) for n in range(10)]
    with Cleaner(rules) as cleaner:
        order = (3, 7, 0, 9, 1, 5, 2, 8, 4, 6)  # pages arrive out of order
        _add(cleaner, [(pages[n], (0, n)) for n in order])
        cleaned = cleaner.results()
        assert cleaner._pool.started  # most pages went to the workers
    expected = [clean(page, rules)[0] for page in pages]
    assert cleaned.failures == [] and cleaned.dispatches == expected
    assert cleaned.prints.keys() == {d.id for d in expected}


def _add(cleaner: Cleaner, pages: list[tuple[RawDispatch, tuple]]) -> None:
    async def add_all():
        for raw, key in pages:
            await cleaner.add(raw, key)

    asyncio.run(add_all())


@pytest.mark.slow  # worker processes
def test_handing_pages_to_busy_workers_never_blocks_the_event_loop(monkeypatch):
    monkeypatch.setattr(Cleaner, "INLINE_FIRST", 0)
    pages = [replace(_page(n), body=SlowToRead(_page(n).body)) for n in range(12)]  # 4 in flight at most
    waited, served = set(), set()  # pages that found every place taken; those the loop ran other work meanwhile
    adding: list[int] = []

    async def other_work(cleaner: Cleaner, done: asyncio.Event):
        while not done.is_set():
            await asyncio.sleep(0)  # once every turn of the loop
            if adding and cleaner._slots is not None and cleaner._slots.locked():
                served.add(adding[-1])

    async def run(cleaner: Cleaner):
        done = asyncio.Event()
        other = asyncio.create_task(other_work(cleaner, done))
        for n, page in enumerate(pages):
            if cleaner._slots is not None and cleaner._slots.locked():
                waited.add(n)
            adding.append(n)
            await cleaner.add(page, (0, n))
        adding.clear()
        done.set()
        await other

    with Cleaner(CleaningRules(workers=2)) as cleaner:
        asyncio.run(run(cleaner))
        cleaned = cleaner.results()
    assert [d.title for d in cleaned.dispatches] == [f"Page {n}" for n in range(12)]
    # Pages 5-12 wait for a place (a worker takes 0.5 s a page; two finishing together free two places
    # at once). While each of them waited, the loop ran other work: `add` waits by awaiting, never by
    # holding the loop (a blocking wait would leave no turn of the loop to the other task meanwhile).
    assert len(waited) >= 4 and served == waited, (waited, served)


@pytest.mark.slow  # worker processes
def test_a_page_that_kills_its_worker_fails_alone_and_the_run_goes_on(monkeypatch):
    monkeypatch.setattr(Cleaner, "INLINE_FIRST", 0)
    with Cleaner(CleaningRules(workers=2)) as cleaner:
        _add(cleaner, [(RawDispatch("site", "https://example.org/bad", KillsItsReader("<p>x</p>"), "html"), (0, 0))])
        cleaner.results()
        _add(cleaner, [(_page(1), (0, 1))])
        cleaned = cleaner.results()
    assert [(f.location, f.reason) for f in cleaned.failures] == [
        ("https://example.org/bad", "cleaning failed: the worker process cleaning it died")
    ]
    assert [d.title for d in cleaned.dispatches] == ["Page 1"]


def test_a_portuguese_page_is_left_out_when_languages_are_french_and_english():
    page = (
        "<html><head><title>Inflação no Brasil</title></head><body><article><h1>Inflação no Brasil</h1>"
        "<p>O governo anunciou nesta quarta-feira um novo pacote de medidas para conter a inflação, que atingiu "
        "o maior nível em dois anos, segundo dados divulgados pelo instituto de estatística.</p>"
        "<p>O ministro da Fazenda disse que as medidas entram em vigor na próxima semana e que o impacto "
        "sobre os preços deve ser sentido até o fim do ano.</p></article></body></html>"
    )
    raw = RawDispatch("crawl", "https://example.com.br/a", page, "html", url="https://example.com.br/a")
    dispatch, removals, failure = clean(raw, CleaningRules(languages=("fr", "en")))
    assert dispatch is None and failure is None
    assert [(r.level, r.reason) for r in removals] == [("language", "language not in cleaning.languages: pt")]
    report = RunReport(
        removals=removals + removals[:1] + [replace(removals[0], reason="language not in cleaning.languages: ru")]
    )
    assert report.languages_left_out() == "pt 2, ru 1"
    assert "- Left out, language not in cleaning.languages: pt 2, ru 1\n" in to_markdown(
        Digest(date(2026, 11, 27), "D", "en", [], report)
    )


@pytest.mark.parametrize(
    "line",
    [
        "© 2008 Rural Press Ltd.",
        "Copyright 2008 The Associated Press. All rights reserved. This material may not be published, broadcast, "
        "rewritten or redistributed.",
        "Tous droits réservés.",
        "Click here to bet on football with Sky Bet!",
        "To read the full report, click here.",
        "Follow us on Twitter",
        "Have your say",
        "Join the discussion on our forum",
        "(Reporting by Michael Shields; Editing by Rory Channing)",
        "Subscribe to our morning briefing for the day's top stories.",
        "Abonnez-vous pour lire la suite de cet article.",
        "Leave a comment",
        "Comments (12)",
        "Réagissez à cet article.",
        "More...",
        "Comments Print Email",
        "As always, you are welcome to email us at desk@example.org with feedback or questions.",
        "(AP Photo/Charles Dharapak)",
        "Cover image: artist’s impression of the lighting installation at the festival",
        "AP Photo XAN101, GFX729 AP Graphic YEMEN ATTACK",
    ],
)
def test_boilerplate_and_captions_never_reach_a_summary(line):
    news = "The council approved the new budget on Tuesday after a long debate."
    dispatch, removals, _ = cleaned(f"{news}\n{line}\nThe mayor said the vote was a relief for the city.")
    assert dispatch.sentences == [news, "The mayor said the vote was a relief for the city."]
    assert [r.text for r in removals] == [line]


@pytest.mark.parametrize(
    "dateline",
    [
        "OTTAWA - ",
        "LAS VEGAS -- ",
        "NEWCASTLE, England - ",
        "NEW YORK, NY (Sports Network) - ",
        "DENVER (Billboard) - ",
        "KUALA LUMPUR, Malaysia (AP) -- ",
        "Meadow Lake, Saskatchewan - ",
        "- ",
        "NEW DELHI: ",
        "New Delhi, Jan 13 (IANS): ",
        "TORONTO (AP) ",
        "Fairfield (AP) _ ",
        "(Sports Network) - ",
        "Hong Kong (CNN Business)",
    ],
)
def test_datelines_of_any_form_are_cut_wherever_the_story_starts(dateline):
    standfirst = "Ministers face a vote on the budget this week, the first test of the new government."
    dispatch, _, _ = cleaned(f"Budget vote\n{standfirst}\n{dateline}The finance minister defended the plan on Monday.")
    assert dispatch.sentences == [standfirst, "The finance minister defended the plan on Monday."]
    # a name with its party before a dash is the sentence itself
    kept = "John Smith (Labour) - the member for Leeds - voted against the plan on Monday."
    assert cleaned(kept)[0].sentences == [kept]


def test_hard_wrapped_text_is_joined_into_paragraphs_not_taken_for_headings():
    text = (
        "FRANKFURT, Jan 9 (Reuters) - U.S. software group Microsoft\n"
        "will not launch a product that competes directly with Apple\n"
        "Inc's iPhone, Chairman Bill Gates said in an interview with\n"
        "Germany's Frankfurter Allgemeine Zeitung.\n"
        "\"No, we won't do that. In the so-called smart phone business\n"
        'we will concentrate solely on software," Gates was quoted as\n'
        "saying in the interview published on Wednesday.\n"
        "Apple's iPhone, which also plays music and lets users browse\n"
        "the internet, has been a big hit.\n"
    )
    dispatch, _, _ = cleaned(text)
    assert all(sentence in text for sentence in dispatch.sentences)  # the wraps stay, read as spaces
    assert [" ".join(sentence.split()) for sentence in dispatch.sentences] == [
        "U.S. software group Microsoft will not launch a product that competes directly with Apple Inc's iPhone, "
        "Chairman Bill Gates said in an interview with Germany's Frankfurter Allgemeine Zeitung.",
        '"No, we won\'t do that. In the so-called smart phone business we will concentrate solely on software," '
        "Gates was quoted as saying in the interview published on Wednesday.",
        "Apple's iPhone, which also plays music and lets users browse the internet, has been a big hit.",
    ]
    assert not any(block.heading for block in dispatch.blocks)


def test_a_date_after_the_digest_day_plus_one_is_taken_off():
    from datetime import date

    from tasks.clean import without_future_dates

    dated = {
        when: make_dispatch(
            f"The council met on {when} to vote the budget for the coming year, its chair said.", published=when
        )
        for when in ("2026-11-28T23:00:00Z", "2026-11-29T00:00:00Z")
    }
    kept = without_future_dates(list(dated.values()), date(2026, 11, 27))
    assert [d.published.isoformat() if d.published else None for d in kept] == ["2026-11-28T23:00:00+00:00", None]
    assert [d.id for d in kept] == [d.id for d in dated.values()]
