import pytest
from sumy.models.dom import ObjectDocumentModel

from tasks.cluster import ClusterOptions, cluster
from tasks.language import SumyTokenizer, words
from tasks.models import Story
from tasks.summarise import (
    SUMY_ALGORITHMS, NewsSummarizer, StoryDocument, SummaryOptions, make_summarizer, summarise_dispatches,
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
    story = StoryDocument([make_dispatch("Le Sénat a voté le budget. Les députés l'examineront lundi.", language="fr")],
                          tokenizer)
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
