from pathlib import Path

import pytest

from tasks.clean import CleaningRules, clean
from tasks.dedup import DedupOptions, dedup_within
from tasks.models import RawDispatch
from tasks.sources import load_file


def _dedup(text: str, language: str | None = None):
    rules = CleaningRules(languages=(language,), default_language=language) if language else CleaningRules()
    cleaned, _, failure = clean(RawDispatch("s", "loc", text, "text"), rules)
    assert failure is None
    return dedup_within(cleaned, DedupOptions())


def test_restated_clause_is_removed_and_explained():
    text = (
        "Donald Trump a rencontré Vladimir Poutine en Alaska, relançant la possibilité d’une rencontre directe "
        "entre Poutine et Zelensky, une première depuis le début de la guerre. Ces échanges relancent la "
        "possibilité d’une rencontre directe entre Poutine et Zelensky, une première depuis le début de la guerre."
    )
    dispatch, removals = _dedup(text)
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
    dispatch, removals = _dedup(f"{first} {second}", "en")
    assert dispatch.sentences == [first]
    assert len(removals) == 1


def test_changed_number_is_new_information():
    text = "The storm killed 12 people in the region, officials said. The storm killed 14 people in the region, officials said."
    dispatch, removals = _dedup(text, "en")
    assert len(dispatch.sentences) == 2 and removals == []


def test_shared_long_named_entity_is_not_a_duplicate():
    text = (
        "The International Federation of Red Cross and Red Crescent Societies opened an office in Kyiv. "
        "The International Federation of Red Cross and Red Crescent Societies warned of a harsh winter ahead."
    )
    dispatch, removals = _dedup(text, "en")
    assert len(dispatch.sentences) == 2 and removals == []


def test_repeated_paragraph_from_a_template():
    paragraph = "Notre rédaction vous propose chaque matin une sélection des informations essentielles du jour."
    text = f"{paragraph}\n\nLe conseil municipal a voté le budget lundi soir.\n\n{paragraph}\n"
    dispatch, removals = _dedup(text, "fr")
    assert [r.level for r in removals] == ["paragraph"]
    assert len(dispatch.sentences) == 2


def test_short_sentences_are_not_judged_by_shared_words():
    text = "Le vote a eu lieu. Le lieu du vote a changé."
    dispatch, removals = _dedup(text, "fr")
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
