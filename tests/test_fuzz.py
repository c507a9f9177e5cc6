"""Property tests (hypothesis) of the text stages on hostile text: arbitrary Unicode, control
characters, mixed scripts, right-to-left marks, pysbd's own placeholder characters, empty and
huge input. Properties: no exception, output sentences are input sentences, same input twice
gives the same output.

Deterministic in CI: `derandomize=True`, no example database, a fixed number of cases per
property (`CASES`; CONTRIBUTING.md reports the totals).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from tasks import compat
from tasks.clean import clean, normalise
from tasks.dedup import DedupOptions, dedup, dedup_across, dedup_within
from tasks.language import PYSBD_CHUNK, bundle, words
from tasks.models import Story
from tasks.summarise import SummaryOptions, summarise_dispatches, summarise_story
from tests.helpers import cleaned, raw_dispatch, rules_for

CASES = {
    "splitter": 200,
    "clean_text": 200,
    "clean_html": 150,
    "dedup_within": 200,
    "dedup_across": 150,
    "summarise": 150,
}


# The properties' bodies call these, as they did before the builders moved to tests/helpers.py: Hypothesis
# derives a test's derandomized examples from its body, so renaming them would change what CI tries.
_rules = rules_for


def _raw(body: str, kind: str = "text", outlet: str = "Outlet"):
    return raw_dispatch(body, kind, outlet=outlet, source="fuzz", location=f"fuzz:{outlet}")


def _cleaned(body: str, code: str, outlet: str = "Outlet"):
    return cleaned(body, language=code, outlet=outlet, source="fuzz", location=f"fuzz:{outlet}")[0]


def fuzz(name: str) -> settings:
    return settings(
        max_examples=CASES[name],
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# Words of several scripts: Latin with accents, Cyrillic, Greek, Arabic and Hebrew (right to left),
# CJK, Devanagari, digits, emoji and combining marks; and characters pysbd uses internally as
# placeholders (∯ ♨ ȸ ...), which a page may well contain.
WORDS = [
    "the",
    "storm",
    "hit",
    "coast",
    "on",
    "Friday",
    "officials",
    "said",
    "préfecture",
    "évacué",
    "l’Ukraine",
    "qu’il",
    "Zelensky",
    "Москва",
    "заявил",
    "Αθήνα",
    "σεισμός",
    "القاهرة",
    "الحكومة",
    "ירושלים",
    "הממשלה",
    "東京",
    "地震",
    "नई",
    "दिल्ली",
    "2,000",
    "48-hour",
    "3.5",
    "١٢٣",
    "🌊",
    "👍🏽",
    "e\u0301te\u0301",
    "Dr.",
    "U.S.",
    "∯",
    "♨",
    "ȸ",
    "ȹ",
    "☝",
    "✂",
    "⎋",
    "ƪ",
    "ǃ",
    "ᓰ",
    "&ᓰ&",
    "♟",
    "♝",
    "∮",
    "☉",
    "☄",
]
ODD = [
    "\u200f",
    "\u202e",
    "\u202c",
    "\u200b",
    "\u00ad",
    "\x00",
    "\x07",
    "\x1b",
    "\x0b",
    "\x0c",
    "\r",
    "\t",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ufffd",
    "\u0085",
    "\u00a0",
    "\u202f",
    "\u2011",
]
ENDS = [".", "!", "?", "…", "。", "?!", ".»", ".”", ":", ";", "", " (AFP)"]

word = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=8))
odd = st.sampled_from(ODD)
sentence = st.builds(
    lambda ws, end, junk: (" ".join(ws) + end).replace(" ", junk, 1) if junk else " ".join(ws) + end,
    st.lists(word, min_size=1, max_size=14),
    st.sampled_from(ENDS),
    st.one_of(st.just(""), odd),
)
paragraph = st.lists(sentence, min_size=1, max_size=5).map(" ".join)
# Text that looks like a dispatch (paragraphs of sentences), or any Unicode at all.
text = st.one_of(
    st.lists(paragraph, min_size=0, max_size=6).map("\n".join),
    st.text(max_size=400),
    st.text(alphabet=st.sampled_from(ODD + list(".!? \n")), max_size=60),
)
language = st.sampled_from(["en", "fr"])


@pytest.mark.slow  # a long Hypothesis run
@fuzz("splitter")
@given(text, language)
def test_sentence_splitter_only_cuts_the_text(body, code):
    lang = bundle(code)
    sentences = lang.sentences(body)
    assert sentences == lang.sentences(body)
    position = 0
    for sentence in sentences:
        assert sentence and sentence == sentence.strip()
        found = body.find(sentence, position)  # in the text, in order: nothing rewritten
        assert found >= 0, (sentence, body)
        position = found + len(sentence)
    # ...and nothing lost: every character that is not a space is in some sentence.
    assert "".join("".join(sentences).split()) == "".join(body.split())


@pytest.mark.slow  # a long Hypothesis run
@fuzz("clean_text")
@given(text, language)
@example("the\u2028the.", "en")  # a line separator: str.splitlines() breaks there
def test_clean_never_raises_and_keeps_only_input_sentences(body, code):
    first = clean(_raw(body), _rules(code))
    assert first == clean(_raw(body), _rules(code))
    dispatch, removals, failure = first
    assert (dispatch is None) == (failure is not None)
    if dispatch is None:
        return
    plain = normalise(body)
    for block in dispatch.blocks:
        for sentence in block.sentences:
            assert sentence and sentence in plain
    assert all(r.text in plain for r in removals)
    assert not any(c in s for s in dispatch.sentences for c in "\x00\x07\x1b\u202e\ufeff")  # control characters gone


def _page(paragraphs: list[str], title: str, tags: list[str]) -> str:
    body = "".join(f"<{tag}>{p}</{tag}>" for p, tag in zip(paragraphs, tags * len(paragraphs)))
    return f"<html><head><title>{title}</title></head><body><article>{body}</article></body></html>"


@pytest.mark.slow  # a long Hypothesis run
@fuzz("clean_html")
@given(
    st.lists(paragraph, max_size=6),
    st.text(max_size=40),
    st.lists(st.sampled_from(["p", "div", "li", "h2", "td"]), min_size=1, max_size=3),
    language,
)
def test_html_through_extract_and_clean_never_raises(paragraphs, title, tags, code):
    html = _page(paragraphs, title, tags)
    first = clean(_raw(html, kind="html"), _rules(code))
    assert first == clean(_raw(html, kind="html"), _rules(code))
    dispatch, _, failure = first
    assert (dispatch is None) == (failure is not None)


@pytest.mark.slow  # a long Hypothesis run
@fuzz("dedup_within")
@given(st.lists(sentence, min_size=1, max_size=12), st.lists(st.integers(0, 11), max_size=8), language)
def test_dedup_within_removes_only_and_is_idempotent(sentences, repeats, code):
    # Repeats of earlier sentences, as wire copy restates them.
    body = " ".join(sentences + [sentences[i % len(sentences)] for i in repeats])
    dispatch = _cleaned(body, code)
    if dispatch is None:
        return
    kept, removals = dedup_within(dispatch, DedupOptions())
    assert (kept, removals) == dedup_within(dispatch, DedupOptions())
    # Headings count: a heading said twice goes as a repeated paragraph.
    original, still = ([s for b in d.blocks for s in b.sentences] for d in (dispatch, kept))
    text, position = " ".join(original), 0
    for kept_sentence in still:  # pieces of the input's sentences (a repeat may be cut from one), in order
        position = text.index(kept_sentence, position) + len(kept_sentence)
    removed = [r.text for r in removals]
    assert all(r in text for r in removed)
    assert sorted(words(" ".join(still + removed))) == sorted(words(text))  # each word kept or removed
    assert dedup_within(kept, DedupOptions())[0] == kept


@pytest.mark.slow  # a long Hypothesis run
@fuzz("dedup_across")
@given(
    st.lists(st.tuples(paragraph, st.sampled_from(["AFP", "AP", "Reuters", "ANSA"])), min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 4), st.floats(0.3, 1.0)), max_size=4),
    language,
    st.randoms(use_true_random=False),
)
def test_dedup_across_keeps_each_dispatch_once_whatever_the_order(texts, copies, code, random):
    # Copies of some dispatches, cut short as editors cut them, under other outlets.
    bodies = list(texts) + [
        (texts[i % len(texts)][0][: max(1, int(len(texts[i % len(texts)][0]) * share))], "Copy") for i, share in copies
    ]
    dispatches = [d for n, (body, outlet) in enumerate(bodies) if (d := _cleaned(body, code, f"{outlet}{n}"))]
    unique, removals = dedup_across(dispatches, DedupOptions())
    assert (unique, removals) == dedup_across(dispatches, DedupOptions())
    shuffled = list(dispatches)
    random.shuffle(shuffled)
    assert sorted(d.id for d in dedup_across(shuffled, DedupOptions())[0]) == sorted(d.id for d in unique)
    carried = [a.location for d in unique for a in d.carriers]
    assert sorted(carried) == sorted(set(carried)) == sorted(d.location for d in dispatches)
    assert {d.id for d in unique} <= {d.id for d in dispatches}
    kept, _ = dedup(dispatches, DedupOptions())
    inputs = {s for d in dispatches for s in d.sentences}
    assert all(s in inputs for d in kept for s in d.sentences)


ALGORITHMS = ["news", "lead", "lexrank", "textrank", "lsa", "luhn", "sumbasic", "kl", "reduction", "edmundson"]


@pytest.mark.slow  # a long Hypothesis run
@fuzz("summarise")
@given(
    st.lists(st.tuples(st.lists(paragraph, min_size=1, max_size=3), st.text(max_size=30)), min_size=1, max_size=3),
    st.sampled_from(ALGORITHMS),
    st.one_of(st.integers(1, 6).map(lambda n: {"sentences": n}), st.integers(5, 80).map(lambda n: {"words": n})),
    language,
)
def test_summaries_are_made_of_input_sentences(docs, algorithm, length, code):
    dispatches = []
    for n, (paragraphs, _title) in enumerate(docs):
        dispatch = _cleaned("\n".join(paragraphs), code, f"Outlet{n}")
        if dispatch is not None:
            dispatches.append(dedup_within(dispatch, DedupOptions())[0])
    if not dispatches:
        return
    options = SummaryOptions(algorithm=algorithm, **length)
    picked = summarise_dispatches(dispatches, options, code)
    assert picked == summarise_dispatches(dispatches, options, code)
    texts = [t for t, _, _ in picked]
    for text_, d, position in picked:
        assert dispatches[d].sentences[position] == text_
    assert len({(d, position) for _, d, position in picked}) == len(picked)  # no sentence twice
    if algorithm == "news":  # ...nor, for ours, one text twice (two outlets saying it give one line)
        assert len(set(texts)) == len(texts)
    if "sentences" in length:
        assert len(texts) <= length["sentences"]
    if algorithm == "news":
        story = Story(1, tuple(dispatches), "Headline", 1.0)
        summary = summarise_story(story, options)
        ids = {a.dispatch_id for d in dispatches for a in d.carriers}
        assert all(s.attributions and {a.dispatch_id for a in s.attributions} <= ids for s in summary.sentences)


@pytest.mark.parametrize(
    "body", ["", " \n\t ", "\x00\x01\x02\u200b\ufeff", "\u202e\u200f", "." * 1000, "...\n!!!\n???"]
)
@pytest.mark.parametrize("kind", ["text", "html"])
def test_empty_and_textless_input_is_a_failure_not_an_error(body, kind):
    dispatch, removals, failure = cleaned(body, kind, outlet="Outlet")
    assert dispatch is None and removals == [] and failure.reason.startswith("no ")


@pytest.mark.slow  # a megabyte through every stage
def test_one_megabyte_single_line_page_through_extract_clean_dedup_and_summary(monkeypatch):
    words = " ".join(WORDS[:34])
    line = " ".join(f"{words} number {n}." for n in range(4000))  # ~1 MB, no line break at all
    html = f"<html><head><title>One line</title></head><body><article><p>{line}</p></article></body></html>"
    assert len(html.encode()) > 1_000_000 and "\n" not in html
    segmented = []  # the length of every text pysbd segments
    segments = compat.segments
    monkeypatch.setattr(compat, "segments", lambda code, text: segmented.append(len(text)) or segments(code, text))
    dispatch, _, failure = cleaned(html, "html", outlet="Outlet")
    assert failure is None and len(dispatch.sentences) > 1000
    kept, _ = dedup_within(dispatch, DedupOptions())
    [(text_, _, _)] = summarise_dispatches([kept], SummaryOptions(sentences=1))
    assert text_ in dispatch.sentences and text_ in normalise(line)
    # It took 10 minutes when pysbd had the megabyte in one piece: pysbd's time grows with the square of
    # a text's length. It only ever sees pieces of a paragraph's size, each character once.
    assert max(segmented) <= PYSBD_CHUNK and sum(segmented) <= len(line)


@pytest.mark.slow  # a megabyte through every stage
def test_huge_unpunctuated_text_is_one_sentence_kept_whole():
    body = " ".join(["mot"] * 200_000)  # 800 kB, no full stop
    dispatch, _, failure = cleaned(body, outlet="Outlet")
    assert failure is None
    assert "".join(dispatch.sentences).replace(" ", "") == body.replace(" ", "")
    assert summarise_dispatches([dispatch], SummaryOptions(sentences=2))[0][0] in dispatch.sentences
