import numpy as np
import pytest
from sumy.models.dom import ObjectDocumentModel

from tasks.cluster import ClusterOptions, cluster
from tasks.language import SumyTokenizer, words
from tasks.models import Story
from tasks.summarise import (
    SUMY_ALGORITHMS,
    Centrality,
    ConceptCoverage,
    NewsSummarizer,
    StoryDocument,
    SummaryOptions,
    make_summarizer,
    summarise_dispatches,
    summarise_story,
)
from tests.helpers import make_dispatch

REUTERS = (
    "Dock workers at the Port of Rotterdam walked out on Friday in a 48-hour strike over plans to automate two "
    "container terminals, the FNV union said. About 2,000 workers joined the strike, according to the union, which "
    "says the plan puts 600 jobs at risk by 2029. Terminal operators said ships were being diverted to Antwerp. "
    "Talks broke down on Wednesday after the employers rejected a job guarantee."
)
AP = (
    "Dockworkers at the port of Rotterdam began a 48-hour strike on Friday over plans to automate two terminals. "
    "The FNV union said about 2,000 workers joined the walkout. The Dutch economy minister urged both sides to "
    "return to talks."
)


def _story():
    dispatches = (
        make_dispatch(REUTERS, "Reuters", published="2026-11-27T10:00:00Z", language="en"),
        make_dispatch(AP, "AP", published="2026-11-27T12:00:00Z", language="en"),
    )
    return Story(1, dispatches, "Strike", 1.0)


@pytest.mark.parametrize("algorithm", ["news", "lead", *SUMY_ALGORITHMS])
def test_every_algorithm_returns_input_sentences_in_reading_order(algorithm):
    story = _story()
    summary = summarise_story(story, SummaryOptions(algorithm=algorithm, sentences=3))
    inputs = [s for d in story.dispatches for s in d.sentences]
    texts = [s.text for s in summary.sentences]
    assert 1 <= len(texts) <= 3 and all(t in inputs for t in texts)
    assert texts == sorted(texts, key=inputs.index)  # dispatch time, then position


def test_news_summarizer_says_each_fact_once_and_cites_every_outlet():
    summary = summarise_story(_story(), SummaryOptions(sentences=4))
    texts = [s.text for s in summary.sentences]
    assert not ({"The FNV union said about 2,000 workers joined the walkout."} & set(texts))
    assert sum("48-hour strike" in t for t in texts) == 1
    sources = {s.text: [a.source for a in s.attributions] for s in summary.sentences}
    assert sources[REUTERS.split(". ")[0] + "."] == ["Reuters", "AP"]
    assert any(src == ["Reuters"] for src in sources.values())


def test_word_budget_is_respected():
    story = _story()
    for budget in (20, 40, 60):
        picked = summarise_dispatches(story.dispatches, SummaryOptions(words=budget))
        total = sum(len(words(t)) for t, _, _ in picked)
        assert picked and (total <= budget or len(picked) == 1)


def test_deterministic_and_independent_of_dispatch_order_in_story():
    story = _story()
    first = summarise_story(story, SummaryOptions())
    again = summarise_story(Story(1, tuple(reversed(story.dispatches)), "Strike", 1.0), SummaryOptions())
    assert [s.text for s in first.sentences] == [s.text for s in again.sentences]


def test_sumy_interface_on_a_plain_document():
    tokenizer = SumyTokenizer("fr")
    document = ObjectDocumentModel([])
    assert make_summarizer("news", "fr")(document, 3) == ()
    story = StoryDocument(
        [make_dispatch("Le Sénat a voté le budget. Les députés l'examineront lundi.", language="fr")], tokenizer
    )
    chosen = NewsSummarizer("fr")(story, 1)
    assert [str(s) for s in chosen] == ["Le Sénat a voté le budget."]


def test_seed_story_has_no_caption_no_repeat_and_attributed_sentences(seeds):
    from tasks.clean import CleaningRules, clean
    from tasks.dedup import DedupOptions, dedup_within
    from tasks.sources import load_file

    dispatches = [dedup_within(clean(load_file(p, p.stem)[0], CleaningRules())[0], DedupOptions())[0] for p in seeds]
    [story] = cluster(dispatches, ClusterOptions())
    summary = summarise_story(story, SummaryOptions(sentences=6))
    inputs = {s for d in dispatches for s in d.sentences}
    for sentence in summary.sentences:
        assert sentence.text in inputs
        assert sentence.attributions and sentence.attributions[0].source in {p.stem for p in seeds}
        assert "AFP /" not in sentence.text and "(Photo" not in sentence.text
    assert sum("une première depuis le début de la guerre" in s.text for s in summary.sentences) <= 1


# --- NewsSummarizer's relevance: titles, sentence form, dangling openings -----------------------


def _plain(sentences, heading=None, language="en"):
    """A plain sumy document (no dispatches, no de-duplication): one paragraph, an optional heading."""
    from sumy.models.dom import Paragraph, Sentence

    tokenizer = SumyTokenizer(language)
    items = ([Sentence(heading, tokenizer, is_heading=True)] if heading else []) + [
        Sentence(s, tokenizer) for s in sentences
    ]
    return ObjectDocumentModel([Paragraph(items)])


HARBOUR = [
    "Storms closed three ports in the north of the country on Sunday night.",
    "The harbour master said ferries to the islands would not sail before Tuesday at the earliest.",
    "Fishermen said the storm had destroyed dozens of boats in the harbour of Brest.",
]


def test_news_summarizer_leans_towards_the_dispatch_title():
    title = "Island ferries will not sail before Tuesday"
    untitled = StoryDocument([make_dispatch(" ".join(HARBOUR), language="en")], SumyTokenizer("en"))
    titled = StoryDocument([make_dispatch(" ".join(HARBOUR), title=title, language="en")], SumyTokenizer("en"))
    assert [str(s) for s in NewsSummarizer("en")(untitled, 1)] == [HARBOUR[2]]
    assert [str(s) for s in NewsSummarizer("en")(titled, 1)] == [HARBOUR[1]]
    assert [str(s) for s in NewsSummarizer("en", title_weight=0)(titled, 1)] == [HARBOUR[2]]
    # A plain sumy document's headings play the title's part.
    assert [str(s) for s in NewsSummarizer("en")(_plain(HARBOUR, heading=title), 1)] == [HARBOUR[1]]


def test_news_summarizer_passes_over_fragments():
    sentences = [
        "Storms closed three ports in the north of the country on Sunday night.",
        "Schools budget approved on Monday night.",
        "The council approved the budget for public schools on Monday after a long debate in the chamber.",
        "Teachers welcomed the budget for public schools, which adds funding for two hundred posts.",
    ]
    document = _plain(sentences)
    assert [str(s) for s in NewsSummarizer("en", short_words=1)(document, 1)] == [sentences[1]]
    assert [str(s) for s in NewsSummarizer("en")(document, 1)] == [sentences[2]]


def test_news_summarizer_prefers_a_sentence_that_stands_alone():
    sentences = [
        "Storms closed three ports in the north of the country on Sunday night.",
        "It said the new budget for public schools adds funding for teachers.",
        "The council said the new budget for public schools adds funding for teachers.",
        "The new budget for public schools was approved on Monday by the council.",
    ]
    document = _plain(sentences)
    assert [str(s) for s in NewsSummarizer("en")(document, 1)] == [sentences[2]]


def test_a_dangling_sentence_is_fine_right_after_its_predecessor():
    text = (
        "Le gouvernement a présenté mardi un plan de deux milliards d'euros pour rénover les écoles. "
        "Il prévoit la rénovation de trois mille écoles d'ici à la fin de l'année prochaine."
    )
    document = StoryDocument([make_dispatch(text, language="fr")], SumyTokenizer("fr"))
    chosen = [str(s) for s in NewsSummarizer("fr")(document, 2)]
    assert chosen == [s for d in document.dispatches for s in d.sentences]


def test_dangling_openings_exist_for_french_and_english():
    from tasks.summarise import DANGLING_OPENINGS

    assert {"il", "elle", "cependant", "en outre"} <= DANGLING_OPENINGS["fr"]
    assert {"he", "they", "however", "in addition"} <= DANGLING_OPENINGS["en"]


def test_news_summarizer_takes_any_sumy_count():
    from sumy.utils import ItemsCount

    document = _plain(HARBOUR)
    two = NewsSummarizer("en")(document, ItemsCount(2))
    assert len(two) == 2 and [str(s) for s in two] == [s for s in HARBOUR if s in map(str, two)]
    assert len(NewsSummarizer("en")(document, ItemsCount("50%"))) == 1


def test_news_summarizer_on_thousands_of_similar_sentences():
    """Many near-identical sentences that differ by their numbers: five distinct ones are chosen."""
    lines = [
        f"Report {i} says the river rose by {i % 7} metres near town {i % 50} on day {i % 9}." for i in range(3000)
    ]
    document = _plain(lines)
    chosen = NewsSummarizer("en")(document, 5)
    assert len(chosen) == 5 and len({str(s) for s in chosen}) == 5


# --- concept coverage: what several outlets report, said once ----------------------------------

FLOOD = [
    "Heavy rain fell across the region on Monday. The river Rhone rose four metres in Lyon overnight. "
    "A bakery in Vaise handed out free bread to volunteers.",
    "Storms swept the south-east on Monday. In Lyon the Rhone river rose four metres during the night. "
    "Schools in Villeurbanne will stay closed until Thursday.",
    "Emergency services were on alert on Monday. The Rhone rose by four metres in Lyon, officials said. "
    "A football match in Saint-Etienne was postponed.",
]


def _vectors(summarizer, sentences):
    return summarizer._tfidf([summarizer._terms(words(s)) for s in sentences], {})[0]


def _coverage(sentences, dispatch_of, length_penalty=1.0):
    return ConceptCoverage(_vectors(NewsSummarizer("en"), sentences), np.array(dispatch_of), length_penalty)


def test_news_summarizer_prefers_the_fact_every_outlet_reports():
    document = StoryDocument([make_dispatch(text, language="en") for text in FLOOD], SumyTokenizer("en"))
    # Without the lead prior, content decides: the river rising, which all three carry, not a detail.
    chosen = [str(s) for s in NewsSummarizer("en", position_weight=0)(document, 1)]
    assert len(chosen) == 1 and "four metres" in chosen[0]
    # And said once: three outlets, one sentence on the river.
    three = [str(s) for s in NewsSummarizer("en", position_weight=0)(document, 3)]
    assert sum("four metres" in s for s in three) == 1


def test_concept_coverage_weights_concepts_by_outlets_and_gives_diminishing_returns():
    sentences = ["river flood Lyon", "river flood Lyon", "bakery bread", "river flood Lyon rain", "school closed"]
    coverage = _coverage(sentences, [0, 1, 2, 2, 2])
    first = coverage.scores()
    assert first[0] == pytest.approx(1.0)  # scaled: the best first step is 1
    assert first[0] > first[2]  # carried by three outlets rather than one
    coverage.said(0)
    after = coverage.scores()
    assert after[1] == pytest.approx(first[1] / 2)  # said once already: worth half
    assert after[2] == pytest.approx(first[2]) and after[4] == pytest.approx(first[4])
    coverage.said(1)
    assert coverage.scores()[1] == pytest.approx(first[1] / 3)


def test_concept_coverage_length_penalty_trades_terse_for_complete():
    sentences = ["river flood Lyon", "river flood Lyon rain storm", "river rain storm", "flood Lyon"]
    dispatch_of = [0, 1, 2, 2]
    per_stem = _coverage(sentences, dispatch_of, length_penalty=1.0).scores()
    total = _coverage(sentences, dispatch_of, length_penalty=0.0).scores()
    assert per_stem[0] > per_stem[1]  # the same gain per stem, the terse one wins...
    assert total[1] > total[0]  # ...while the total gain rewards the sentence that says more


def test_two_dispatches_keep_centroid_centrality():
    summarizer = NewsSummarizer("en")
    vectors = _vectors(summarizer, HARBOUR)
    assert isinstance(summarizer._content(vectors, np.array([0, 0, 1])), Centrality)
    assert isinstance(summarizer._content(vectors, np.array([0, 1, 2])), ConceptCoverage)


# --- the summarisation bench's scoring -----------------------------------------------------------


def _bench():
    """bench/summarisation.py as a module (it is a script, not a package); needs the bench extra."""
    import importlib.util
    import sys
    from pathlib import Path

    pytest.importorskip("rouge_score")
    if "bench_summarisation" not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "bench" / "summarisation.py"
        spec = importlib.util.spec_from_file_location("bench_summarisation", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up by name
        spec.loader.exec_module(module)
    return sys.modules["bench_summarisation"]


def test_bench_french_tokenizer_keeps_accents_and_normalises():
    bench = _bench()
    decomposed = "L’e\u0301te\u0301 a\u0300 Noël : Ça coûte 3,5 € — «oui»"
    assert bench.FrenchTokenizer().tokenize(decomposed) == ["l", "été", "à", "noël", "ça", "coûte", "3", "5", "oui"]


def test_bench_french_scores_accented_words_that_the_default_tokenizer_drops():
    bench = _bench()
    scorer = bench.make_scorer("fr")
    r1, r2, rl = bench.score(scorer, ["Les élèves été"], "Les élèves été")
    assert (r1, r2, rl) == (100.0, 100.0, 100.0)
    # NFC: a decomposed é is the same word; different words do not match through their ASCII letters.
    assert bench.score(scorer, ["élève"], "e\u0301le\u0300ve")[0] == 100.0
    assert bench.score(scorer, ["été"], "êta")[0] == 0.0
    # References are scored one by one and averaged.
    assert bench.score(scorer, ["élève", "maître"], "élève")[0] == 50.0


def test_bench_reference_lengths():
    bench = _bench()
    assert bench.reference_lengths(["Une phrase. Deux phrases. Trois.", "Une seule phrase ici."], "fr") == (2, 5)
    assert bench.reference_lengths(["no full stop"], "en") == (1, 3)


# --- summary sentences stand alone (issue 17) -----------------------------------------------------


@pytest.mark.parametrize(
    "fragment",
    [
        "drawn to play fourth seeded Mauresmo in the semi-finals of the open.",  # lower-case start
        "he added.",
        "See more photos:",  # under six words
        "Germany's Frankfurter Allgemeine Zeitung Reported Wednesday.",  # capitalised words only: a title, no verb
        "Viera (3-0): Talorie Crafton 1 goal, 2 assists.",  # a result line, mostly numbers
        "Focus on these business goals during the build stage:",  # a lead-in
        "Was in development for several months, but not any more...",  # a teaser cut short
        "The Trojans resume their Pacific-10 Conference schedule tonight against No.5",  # cut: no end
        "The storm hit the coast " + "and the wind rose again " * 16 + "on Friday.",  # glued lines: 86 words
    ],
)
def test_fragments_lead_ins_teasers_and_glued_lines_do_not_stand_alone(fragment):
    from tasks.summarise import stands_alone

    assert not stands_alone(fragment)
    assert stands_alone("iPhone sales rose by a third in the quarter, Apple said.")


def test_a_central_fragment_is_never_chosen():
    sentences = [
        "Storms closed three ports in the north of the country on Sunday night.",
        "the budget for public schools and teachers, the council said.",
        "The council approved the budget for public schools on Monday after a long debate.",
        "Teachers welcomed the budget for public schools, which adds funding for two hundred posts.",
    ]
    chosen = [str(s) for s in NewsSummarizer("en")(_plain(sentences), 2)]
    assert sentences[1] not in chosen and len(chosen) == 2


def test_a_sentence_opening_on_a_pronoun_waits_for_its_antecedent():
    lead = "Storms closed three ports in the north of the country on Sunday night."
    text = (
        f"{lead} The mayor of Brest spoke on the radio in the morning. "
        "She said the new budget for the harbour and its ferries would pay for new ferries and new quays. "
        "The council said a new budget for the harbour would be voted in the spring."
    )
    document = StoryDocument([make_dispatch(text, language="en")], SumyTokenizer("en"))
    chosen = [str(s) for s in NewsSummarizer("en", position_weight=0)(document, 2)]
    assert not any(s.startswith("She said") for s in chosen)
    # once its antecedent is in, it may follow
    all_four = [str(s) for s in NewsSummarizer("en", position_weight=0)(document, 4)]
    assert all_four.index("The mayor of Brest spoke on the radio in the morning.") < all_four.index(
        "She said the new budget for the harbour and its ferries would pay for new ferries and new quays."
    )


def test_two_outlets_writing_one_fact_differently_give_one_summary_sentence():
    short = "About 1,200 people were evacuated from the town on Sunday, the police said."
    long = (
        "About 1200 people were evacuated from the town on Sunday as the river rose, the police said, "
        "and schools, shops and the station stayed closed until the water went down on Tuesday evening."
    )
    dispatches = [
        make_dispatch(
            f"{short} Rain is forecast again for Thursday and Friday in the whole region.", "Reuters", language="en"
        ),
        make_dispatch(
            f"Flood waters rose fast overnight in the valley after a week of heavy rain. {long}", "AP", language="en"
        ),
    ]
    story = Story(1, tuple(dispatches), "Floods", 1.0)
    summary = summarise_story(story, SummaryOptions(sentences=4))
    texts = [s.text for s in summary.sentences]
    assert not (short in texts and long in texts)
    said_twice = next(s for s in summary.sentences if s.text in (short, long))
    assert {a.source for a in said_twice.attributions} == {"Reuters", "AP"}
