"""tasks/compat.py's uses of trafilatura, sumy and Prefect beyond their public API (4-8 of its docstring):
each test fails when the library renames, moves or changes what is used, before a digest changes.
pysbd's patches (1-3) are pinned in tests/test_language.py."""

import logging
import subprocess
import sys

import lxml.html
import pytest
import trafilatura
import trafilatura.core

from tasks import compat
from tests.conftest import ROOT

# --- trafilatura ------------------------------------------------------------------------------------

STORY = "The council approved the new budget on Tuesday after a long debate about school funding and roads."
# A short text among many links: trafilatura's recall escalation (4) runs on it when it is on.
LINKS = "".join(
    f"<div class='related'><a href='/s{i}'>Another story number {i} that readers liked this week on the site</a></div>"
    for i in range(80)
)
SHORT_AMONG_LINKS = f"<html><body><div class='main'><h1>Budget</h1><p>{STORY * 3}</p></div>{LINKS}</body></html>"


def _recall_retries(monkeypatch, page: str, escalation_off: bool) -> int:
    """How many times trafilatura re-extracted `page` in recall mode."""
    calls = []
    retry = trafilatura.core._recall_retry
    monkeypatch.setattr(trafilatura.core, "_recall_retry", lambda *args: calls.append(1) or retry(*args))
    tree = trafilatura.load_html(page)
    if escalation_off:
        with compat.without_recall_escalation():
            trafilatura.bare_extraction(tree, fast=True, include_comments=False, include_tables=False)
    else:
        trafilatura.bare_extraction(tree, fast=True, include_comments=False, include_tables=False)
    return len(calls)


def test_recall_escalation_is_the_gate_the_patch_sets(monkeypatch):
    # trafilatura reads the gate as a global of trafilatura.core where it decides: setting it there works
    assert "ESCALATION_MAX_LENGTH" in trafilatura.core.trafilatura_sequence.__code__.co_names
    gate = trafilatura.core.ESCALATION_MAX_LENGTH
    assert _recall_retries(monkeypatch, SHORT_AMONG_LINKS, escalation_off=False) == 1
    assert _recall_retries(monkeypatch, SHORT_AMONG_LINKS, escalation_off=True) == 0
    assert trafilatura.core.ESCALATION_MAX_LENGTH == gate  # put back after the block


def test_a_renamed_escalation_gate_fails_loudly(monkeypatch):
    monkeypatch.delattr(trafilatura.core, "ESCALATION_MAX_LENGTH")
    with pytest.raises(AttributeError, match="ESCALATION_MAX_LENGTH"):
        with compat.without_recall_escalation():
            pass


PAGE = (
    """<html><head><title>Budget approved | City News</title>
<meta property="og:title" content="Council approves the city budget"><meta name="author" content="Jane Smith">
<link rel="canonical" href="https://news.example/city/budget-approved">
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Council approves budget after long debate", "author": {"@type": "Person", "name": "John Doe"},
 "publisher": {"@type": "Organization", "name": "City News"}}</script></head>
<body><nav><a href="/">Home</a> <a href="/city">City desk</a></nav>
<article><h1 class="entry-title">Council approves the budget</h1><p>%s</p>
<p>The vote was seven to two, and the mayor said the spending plan would take effect in January next year.</p>
<p>Opponents said the plan did too little for the bus network, which has lost riders every year since 2019.</p>
</article></body></html>"""
    % STORY
)


def test_trafilatura_metadata_helpers_read_what_they_read():
    tree = trafilatura.load_html(PAGE)
    meta = compat.examine_meta(tree)  # meta tags
    assert (meta.title, meta.author) == ("Council approves the city budget", "Jane Smith")
    json_ld = compat.extract_meta_json(tree, compat.Metadata())
    assert (json_ld.title, json_ld.author, json_ld.sitename) == (
        "Council approves budget after long debate",
        "John Doe",
        "City News",
    )
    assert compat.extract_metainfo(tree, compat.TITLE_XPATHS) == "Council approves the budget"  # a "headline" element
    assert compat.extract_url(tree) == "https://news.example/city/budget-approved"
    assert compat.Metadata is trafilatura.bare_extraction(trafilatura.load_html(PAGE)).__class__
    meta.clean_and_trim()  # tasks/extract.py trims what it read, as trafilatura's own extract_metadata does
    assert all(hasattr(meta, name) for name in ("title", "author", "url", "date", "sitename"))


def test_bundled_readability_picks_the_article():
    text = lxml.html.fromstring(compat.Readability(trafilatura.load_html(PAGE)).summary()).text_content()
    assert STORY in text and "opponents said" in text.lower() and "City desk" not in text


# --- sumy -------------------------------------------------------------------------------------------


def test_sumy_private_names_are_what_the_summarisers_use():
    import sumy.summarizers
    from sumy.summarizers import _summarizer
    from sumy.utils import ItemsCount

    assert sumy.summarizers.AbstractSummarizer is _summarizer.AbstractSummarizer  # the public import is sumy's own
    info = compat.sentence_info("a sentence", 3, 0.5)
    assert type(info) is _summarizer.SentenceInfo and info._fields == ("sentence", "order", "rating")
    sentences = ["first", "second", "third", "fourth"]
    rating = {"first": 1, "second": 4, "third": 2, "fourth": 3}.__getitem__
    assert compat.best_sentences(sentences, 2, rating) == ("second", "fourth")  # best two, in document order
    assert compat.best_sentences(sentences, ItemsCount("75%"), rating) == ("second", "third", "fourth")


def test_importing_compat_loads_neither_sumys_summarisers_nor_prefect():
    # the processes that clean pages import it (for pysbd): nltk (~2.4 s) and Prefect (~2 s) would be theirs
    probe = "import sys, tasks.compat; print(sorted({'sumy.summarizers', 'nltk', 'prefect'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# --- Prefect ----------------------------------------------------------------------------------------


def test_prefect_task_engine_logs_the_wording_matched():
    import inspect

    import prefect.task_engine

    assert f'f"{compat.TASK_FINISHED} {{display_state}}"' in inspect.getsource(prefect.task_engine)


@pytest.mark.prefect
def test_the_line_prefect_logs_as_a_task_ends_is_recognised(prefect_api, monkeypatch):
    from prefect import flow, task

    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = logging.getLogger("prefect.task_runs")
    # setLevel, not the attribute: it empties the logger's isEnabledFor cache, which an earlier test at
    # another level filled (then the INFO line was dropped in a full run).
    level = logger.level
    logger.setLevel(logging.INFO)
    monkeypatch.setattr(logger, "disabled", False)  # an earlier logging.config.dictConfig can disable it
    logger.addHandler(handler)

    @task(name="read-source")
    def read() -> int:
        return 1

    @flow
    def run() -> None:
        read()
        read()

    try:
        run()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    finished = [r for r in records if compat.task_finished(r.getMessage())]
    assert [getattr(r, "task_name", None) for r in finished] == ["read-source", "read-source"], [
        r.getMessage() for r in records
    ]
