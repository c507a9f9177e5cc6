from pathlib import Path

import pytest

from tasks.clean import CleaningRules, clean
from tasks.dedup import DedupOptions, dedup_within
from tasks.sources import load_file
from tests.helpers import deduped


def test_restated_clause_is_removed_and_explained():
    text = (
        "Donald Trump a rencontré Vladimir Poutine en Alaska, relançant la possibilité d’une rencontre directe "
        "entre Poutine et Zelensky, une première depuis le début de la guerre. Ces échanges relancent la "
        "possibilité d’une rencontre directe entre Poutine et Zelensky, une première depuis le début de la guerre."
    )
    dispatch, removals = deduped(text)
    assert len(dispatch.sentences) == 1
    [removal] = removals
    assert removal.level == "sentence" and removal.score >= 1
    assert removal.kept == dispatch.sentences[0]


@pytest.mark.parametrize(
    "second",
    [
        "The storm killed 12 people in the region, officials said on Monday!",  # re-punctuated
        "The storm killed 12 people in the region , officials said on Monday .",
        "“The storm killed 12 people in the region”, officials said on Monday.",  # quotes
        "Officials said on Monday that the storm killed 12 people in the region.",  # reordered
    ],
)
def test_near_duplicates_in_english(second):
    first = "The storm killed 12 people in the region, officials said on Monday."
    dispatch, removals = deduped(f"{first} {second}", language="en")
    assert dispatch.sentences == [first]
    assert len(removals) == 1


def test_changed_number_is_new_information():
    text = "The storm killed 12 people in the region, officials said. The storm killed 14 people in the region, officials said."
    dispatch, removals = deduped(text, language="en")
    assert len(dispatch.sentences) == 2 and removals == []


def test_shared_long_named_entity_is_not_a_duplicate():
    text = (
        "The International Federation of Red Cross and Red Crescent Societies opened an office in Kyiv. "
        "The International Federation of Red Cross and Red Crescent Societies warned of a harsh winter ahead."
    )
    dispatch, removals = deduped(text, language="en")
    assert len(dispatch.sentences) == 2 and removals == []


def test_repeated_paragraph_from_a_template():
    paragraph = "Notre rédaction vous propose chaque matin une sélection des informations essentielles du jour."
    text = f"{paragraph}\n\nLe conseil municipal a voté le budget lundi soir.\n\n{paragraph}\n"
    dispatch, removals = deduped(text, language="fr")
    assert [r.level for r in removals] == ["paragraph"]
    assert len(dispatch.sentences) == 2


def test_short_sentences_are_not_judged_by_shared_words():
    text = "Le vote a eu lieu. Le lieu du vote a changé."
    dispatch, removals = deduped(text, language="fr")
    assert removals == []


# Messy scraped text (issue 19): the splitter may give several sentences as one; a repeat inside is cut there.
FIRST = "The storm killed 12 people in the region and destroyed hundreds of homes, officials said on Monday."
NEW = "Rescue teams from three neighbouring countries arrived on Tuesday morning."


@pytest.mark.parametrize(
    "text, kept",
    [
        # a quotation that spans the repeat and the sentences around it (pysbd keeps a quotation whole)
        (
            f'{FIRST} The mayor said: "{NEW} {FIRST} We need help." The roads are closed.',
            [FIRST, f'The mayor said: "{NEW}', 'We need help."', "The roads are closed."],
        ),
        # a repeat glued to the sentence before it, and re-punctuated
        (
            f"{FIRST} {NEW}{FIRST.replace(',', ' ,').replace('said', '“said”')} The roads are closed.",
            [FIRST, NEW, "The roads are closed."],
        ),
        # a quotation mark opened and never closed, and a restated clause opening on a connective
        (
            f'{FIRST} "{NEW} In other words, destroyed hundreds of homes, officials said on Monday. The roads are closed.',
            [FIRST, f'"{NEW}', "The roads are closed."],
        ),
    ],
)
def test_a_repeat_inside_text_run_together_is_cut_where_its_sentence_ends(text, kept):
    dispatch, removals = deduped(text, language="en")
    assert dispatch.sentences == kept
    [removal] = removals
    assert removal.level == "sentence" and removal.kept == FIRST and removal.score >= 1
    assert "already said in this dispatch" in removal.reason


def test_a_new_sentence_run_into_a_repeat_is_kept():
    # The long repeat must not take the short new sentence glued to it along.
    text = f"{FIRST} {NEW} {FIRST[:-1]}.Officials fear more rain."
    dispatch, removals = deduped(text, language="en")
    assert dispatch.sentences[-1] == "Officials fear more rain."
    assert [r.text for r in removals] == [FIRST[:-1] + "."]


def test_a_changed_or_respaced_number_inside_a_quotation():
    changed = FIRST.replace("12", "14")
    dispatch, removals = deduped(f'{FIRST} He said: "{NEW} {changed} Help us."', language="en")
    assert removals == [] and changed in " ".join(dispatch.sentences)  # a changed number is a new fact
    respaced = "The storm cost 30 ,000 euros to each of the farms in the region, officials said."
    dispatch, removals = deduped(f"{respaced.replace(' ,', ',')} {NEW} {respaced}", language="en")
    assert [r.text for r in removals] == [respaced]  # `30 ,000` is 30,000


def test_a_connective_that_names_something_is_not_a_connective():
    # "On Friday the company" is new information, not "According to the same source,".
    first = "Citigroup said it would continue to co-operate fully with the authorities."
    dispatch, removals = deduped(
        f"{first} On Friday its lawyers said it would continue to co-operate fully with the authorities.", language="en"
    )
    assert removals == []
    dispatch, removals = deduped(
        f"{first} According to the same source, it would continue to co-operate fully with the authorities.",
        language="en",
    )
    assert len(removals) == 1 and removals[0].kept == first


def test_a_phrase_from_the_middle_of_a_sentence_is_no_restated_clause():
    first = "Dalton has been working to reduce the deficit from the previous government, Mike Harris and Erin Eves."
    dispatch, removals = deduped(
        f'{first} You first of all mention the "deficit from the previous government".', language="en"
    )
    assert removals == []


def test_seed_repeated_fact_is_kept_once(seeds: list[Path]):
    raw = load_file(seeds[0], "seed")[0]
    cleaned, _, _ = clean(raw, CleaningRules())
    dispatch, removals = dedup_within(cleaned, DedupOptions())
    clause = "une première depuis le début de la guerre en Ukraine."
    assert sum(clause in s for s in cleaned.sentences) == 2
    assert sum(clause in s for s in dispatch.sentences) == 1
    assert [r.text for r in removals] == [
        "Ces échanges relancent la possibilité d’une rencontre directe entre Poutine et Zelenskyy, "
        "une première depuis le début de la guerre en Ukraine."
    ]
    other = load_file(seeds[1], "seed")[0]
    assert dedup_within(clean(other, CleaningRules())[0], DedupOptions())[1] == []


WIRE = (
    "Le Sénat a adopté jeudi soir en première lecture le projet de budget de la Sécurité sociale pour 2027, "
    "par 201 voix contre 112.\n\nLes sénateurs ont supprimé l’article qui doublait les franchises médicales, "
    "une mesure jugée « injuste » par une large partie de l’hémicycle.\n\nLe texte doit désormais être examiné "
    "en commission mixte paritaire, où députés et sénateurs tenteront de trouver une version commune.\n\n"
    "Le gouvernement table sur un déficit ramené à 16 milliards d’euros l’an prochain."
)


def _wire(text: str, outlet: str, title: str, published: str = "2026-11-27T18:00:00Z"):
    from tests.helpers import make_dispatch

    return make_dispatch(text, outlet=outlet, title=title, published=published, language="fr")


def test_same_dispatch_under_another_headline_is_kept_once_with_both_sources():
    from tasks.dedup import dedup

    a = _wire(WIRE, "AFP", "Le Sénat adopte le budget de la Sécu")
    b = _wire(
        WIRE.replace("« injuste »", '"injuste"'),
        "Le Figaro",
        "Budget de la Sécu : feu vert du Sénat",
        "2026-11-27T18:30:00Z",
    )
    other = _wire(
        "Le Rhône est monté de plus de deux mètres en vingt-quatre heures à Lyon, où les quais sont fermés.",
        "AFP",
        "Crue",
    )
    kept, removals = dedup([b, other, a], DedupOptions())
    assert len(kept) == 2
    [wire] = [d for d in kept if d.copies]
    assert wire is not None and {c.source for c in wire.carriers} == {"AFP", "Le Figaro"}
    [removal] = removals
    assert removal.level == "dispatch" and removal.score >= 0.8
    assert wire.source == "AFP"  # equal length: the earliest published copy is kept


def test_shorter_version_folds_into_the_longer_one():
    from tasks.dedup import dedup

    short = _wire(
        WIRE.split("\n\n", 2)[0] + "\n\n" + WIRE.split("\n\n")[1], "Ouest-France", "Budget", "2026-11-27T17:00:00Z"
    )
    full = _wire(WIRE, "AFP", "Budget de la Sécu")
    kept, removals = dedup([short, full], DedupOptions())
    assert [d.source for d in kept] == ["AFP"] and [c.source for c in kept[0].copies] == ["Ouest-France"]
    assert removals[0].dispatch_id == short.id


def test_related_but_different_dispatches_are_not_merged():
    from tasks.dedup import dedup

    a = _wire(WIRE, "AFP", "Budget")
    b = _wire(
        "Le Sénat a adopté jeudi soir en première lecture le projet de budget de la Sécurité sociale pour 2027. "
        "Les syndicats de pharmaciens dénoncent une réforme qui fragilise les officines rurales et appellent à "
        "une grève le 5 décembre.",
        "Le Monde",
        "Pharmaciens en grève",
    )
    kept, removals = dedup([a, b], DedupOptions())
    assert len(kept) == 2 and removals == []


def test_cross_dispatch_dedup_does_not_depend_on_input_order():
    from tasks.dedup import dedup

    items = [
        _wire(WIRE, "AFP", "A"),
        _wire(WIRE, "Libération", "B", "2026-11-27T19:00:00Z"),
        _wire(WIRE.replace("201", "210"), "Le Monde", "C"),
    ]
    first = dedup(items, DedupOptions())
    second = dedup(list(reversed(items)), DedupOptions())
    assert [(d.id, [c.source for c in d.copies]) for d in first[0]] == [
        (d.id, [c.source for c in d.copies]) for d in second[0]
    ]


def test_repeats_found_inside_a_copy_dropped_later_are_not_counted_twice():
    from tasks.dedup import repeats_of_kept
    from tasks.models import Removal
    from tests.helpers import make_dispatch

    kept = make_dispatch("Le Sénat a voté le budget mardi soir après trois jours de débats.", outlet="AFP")
    repeat = Removal("sentence", kept.id, "AFP", "Le budget a été voté.", "already said in this dispatch")
    in_copy = Removal("sentence", kept.id, "Le Monde", "Le budget a été voté.", "already said in this dispatch")
    caption = Removal("clean", kept.id, "Le Monde", "(Photo AFP)", "photo caption or credit")
    assert repeats_of_kept([repeat, in_copy, caption, repeat], [kept]) == [repeat, caption]


SHARED = (
    "Le Sénat a adopté mardi le projet de budget de la Sécurité sociale par 205 voix contre 108, "
    "après trois semaines de débats tendus sur les retraites."
)


def test_a_paragraph_two_outlets_of_a_story_share_is_recorded_once_with_whose_it_was():
    from tasks.dedup import shared_paragraphs

    first = _wire(f"{SHARED}\n\nLa ministre a salué « un texte de responsabilité » devant les sénateurs.", "AFP", "A")
    second = _wire(
        f"La gauche dénonce un budget « injuste » et promet de saisir le Conseil constitutionnel.\n\n"
        f"{SHARED.replace('mardi', 'ce mardi')}",
        "Le Figaro",
        "B",
    )
    same_outlet = _wire(SHARED, "AFP", "C")  # its own outlet's copy: a repeat for dedup across, not wire copy
    changed = _wire(SHARED.replace("205", "215"), "Libération", "D")  # a changed number is news
    removals = shared_paragraphs([first, second, same_outlet, changed], DedupOptions())
    [removal] = removals
    assert (removal.level, removal.source, removal.dispatch_id) == ("story", "Le Figaro", second.id)
    assert removal.text == SHARED.replace("mardi", "ce mardi") and removal.score >= 0.7
    assert removal.kept == f"AFP: {first.location}" and "AFP" in removal.reason
    # both dispatches stay whole: the summary cites both outlets for the shared fact
    assert SHARED in first.text and "ce mardi" in second.text
