"""Every patch of a third-party library and every use of one's private API, in one place, each pinned by a
test that fails when the library changes, before a digest does.

pysbd (0.3.4, unmaintained since 2021) is the sentence splitter's base. The project changes three
things in it, all for speed, none for its results:
1. its modules' `re` is `CompiledOnce`, which compiles each pattern once;
2. `AbbreviationReplacer.search_for_abbreviations_in_string` is replaced by a faster equivalent;
3. `segments` calls its private `Segmenter.processor` directly.
Each leans on pysbd's internals: `tests/test_language.py` pins the version, the replaced method's
source and the private names used, so that a new pysbd fails those tests before it changes a sentence.

trafilatura (tasks/extract.py): 4. its recall escalation switched off by setting a module constant
(`without_recall_escalation`); 5. four helpers of its metadata module that its documentation does not
list; 6. the copy of readability-lxml it bundles. sumy (tasks/summarise.py): 7. its private
`SentenceInfo` and its summarisers' protected `_get_best_sentences`. Prefect (flows/progress.py):
8. the wording of the line its task engine logs when a task run ends. tests/test_compat.py pins 4-8.
Prefect (flows/daily_digest.py): 9. its `SyncClientContext`, one client for a run's task runs, pinned by
tests/test_pipeline.py.

Importing this module loads pysbd and trafilatura (the processes that clean pages load both anyway),
never sumy's summarisers (nltk, ~2.4 s) nor Prefect: those are imported when first used.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import cache, lru_cache
from typing import Any

import pysbd
import trafilatura.core
from pysbd.abbreviation_replacer import AbbreviationReplacer
from trafilatura.metadata import (  # "as": names extract.py takes from here (mypy --strict)
    Document as _Document,
    examine_meta as examine_meta,
    extract_meta_json as extract_meta_json,
    extract_metainfo as extract_metainfo,
    extract_url as extract_url,
)
from trafilatura.readability_lxml import Document as _ReadabilityDocument
from trafilatura.xpaths import TITLE_XPATHS as TITLE_XPATHS

PYSBD_VERSION = "0.3.4"  # the version these patches were written against


def segments(code: str, text: str) -> list[str]:
    """pysbd's sentences of `text` as its processor gives them (patch 3). `Segmenter.segment` would also
    locate each in the text with a regular expression made of the sentence (compiled anew every time,
    half of its cost); the caller locates them itself."""
    sentences: list[str] = _segmenter(code).processor(text).process()
    return sentences


@cache
def abbreviations(code: str) -> frozenset[str]:
    """The language's abbreviations as pysbd lists them, lower-cased, without their final dot."""
    return frozenset(a.strip().casefold() for a in _segmenter(code).language_module.Abbreviation.ABBREVIATIONS)


@cache
def _segmenter(code: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=code, clean=False)


_compiled = lru_cache(maxsize=4096)(re.compile)


class CompiledOnce:
    """Patch 1: the `re` module, with every pattern compiled once. pysbd builds its patterns as strings on each
    call, more distinct ones than `re`'s own cache holds (512): they were compiled again and again,
    two thirds of its time. Given to pysbd's modules in place of `re`."""

    compile = staticmethod(_compiled)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def search(self, pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
        return self.compile(pattern, flags).search(string)

    def match(self, pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
        return self.compile(pattern, flags).match(string)

    def sub(
        self, pattern: str, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0, flags: int = 0
    ) -> str:
        return self.compile(pattern, flags).sub(repl, string, count)

    def split(self, pattern: str, string: str, maxsplit: int = 0, flags: int = 0) -> list[Any]:
        return self.compile(pattern, flags).split(string, maxsplit)

    def findall(self, pattern: str, string: str, flags: int = 0) -> list[Any]:
        return self.compile(pattern, flags).findall(string)

    def finditer(self, pattern: str, string: str, flags: int = 0) -> Iterator[re.Match[str]]:
        return self.compile(pattern, flags).finditer(string)


for _module in [m for name, m in sys.modules.items() if name.startswith("pysbd") and getattr(m, "re", None) is re]:
    setattr(_module, "re", CompiledOnce())  # noqa: B010 (a module's attribute: mypy types the assignment)


WHITESPACE = re.compile(r"\s")


def search_for_abbreviations_in_string(self: AbbreviationReplacer, text: str) -> str:
    """Patch 2: pysbd's `AbbreviationReplacer.search_for_abbreviations_in_string`, with one more test before
    each of its regex scans. It scans the text for every abbreviation of the language (188 in English,
    2,225 in Italian) the text has anywhere, though its regex only matches one at the start of a word:
    skipping those whose first two letters start no word leaves 40 % of the scans, and those never
    followed by a full stop (each replacement is of that full stop) a third of the rest, with the same
    result. Its two scans use the patterns compiled once."""
    lowered = text.lower()
    starts = {text[end : end + 2].casefold() for end in (0, *(m.end() for m in WHITESPACE.finditer(text)))}
    for abbr in self.lang.Abbreviation.ABBREVIATIONS:
        stripped = abbr.strip()
        if stripped not in lowered:
            continue
        opening = stripped[:2]
        if len(opening) == 2 and opening.isalnum() and opening.casefold() not in starts:
            continue  # its regex, (?:^|\s)abbreviation, cannot match
        if stripped.isalpha() and f"{stripped.lower()}." not in lowered:
            continue  # each of its replacements is of the full stop right after it
        abbrev_match = _compiled(rf"(?:^|\s|\r|\n){stripped}", re.IGNORECASE).findall(text)
        if not abbrev_match:
            continue
        char_array = _compiled(r"(?<={" + str(re.escape(stripped)) + "} ).{1}", 0).findall(text)
        for ind, match in enumerate(abbrev_match):
            text = self.scan_for_replacements(text, match, ind, char_array)
    return text


AbbreviationReplacer.search_for_abbreviations_in_string = search_for_abbreviations_in_string


# ---- trafilatura ------------------------------------------------------------------------------------
# tasks/extract.py's uses of trafilatura beyond its documented API (bare_extraction, load_html,
# extract_metadata); tests/test_compat.py fails when trafilatura renames, moves or changes them.

# 5. Helpers of trafilatura.metadata, for a page's metadata without `extract_metadata`'s slow searches of
# its body: meta tags (`examine_meta`), JSON-LD (`extract_meta_json`), the first match of XPaths
# (`extract_metainfo`, with the headline expressions of trafilatura.xpaths, `TITLE_XPATHS`), the canonical URL
# (`extract_url`).
# 6. readability-lxml as trafilatura bundles it (no dependency of ours): imported at the top of this
# module, it fails at once when trafilatura drops it, where a fallback to no text at all made every page
# trafilatura's alone.
Metadata = _Document  # trafilatura's Document, which its metadata helpers fill (trafilatura.metadata exports it)
Readability = _ReadabilityDocument
_ESCALATION_LOCK = threading.Lock()


@contextmanager
def without_recall_escalation() -> Iterator[None]:
    """4. trafilatura (>= 2.3) with its recall escalation off: a short result is extracted again in recall
    mode after a text dump of the whole page (~8 ms a page), which the check against readability does
    better. It has no option for it: the escalation's size gate, `trafilatura.core.ESCALATION_MAX_LENGTH`,
    is set to 0 for the block (the lock keeps another thread of ours from restoring it meanwhile). A
    trafilatura without that name raises AttributeError here: a rename must not turn this into a no-op."""
    with _ESCALATION_LOCK:
        saved = trafilatura.core.ESCALATION_MAX_LENGTH
        trafilatura.core.ESCALATION_MAX_LENGTH = 0
        try:
            yield
        finally:
            trafilatura.core.ESCALATION_MAX_LENGTH = saved


# ---- sumy ------------------------------------------------------------------------------------------
# 7. What tasks/summarise.py uses of sumy that is not public: `SentenceInfo`, the records its counts
# (ItemsCount...) take and return, and `AbstractSummarizer._get_best_sentences`, which every summariser of
# sumy's calls. sumy.summarizers loads nltk (~2.4 s): imported at first use, not by the processes that
# only clean pages (they import this module for pysbd).


@cache
def _sumy_summarizer() -> Any:  # sumy has no types: its module is Any to mypy
    import sumy.summarizers._summarizer as module

    return module


def sentence_info(sentence: Any, order: int, rating: float) -> Any:
    """sumy's SentenceInfo(sentence, order, rating): what a sumy count takes and returns."""
    return _sumy_summarizer().SentenceInfo(sentence, order, rating)


def best_sentences(sentences: Sequence[Any], count: Any, rating: Callable[[Any], float]) -> tuple[Any, ...]:
    """sumy's `AbstractSummarizer._get_best_sentences`: the sentences rated best by `rating`, as many as
    `count` (a number, a share "20%" or a sumy count) keeps, in document order."""
    return tuple(_sumy_summarizer().AbstractSummarizer._get_best_sentences(sentences, count, rating))


# ---- Prefect's log lines ---------------------------------------------------------------------------
# 8. flows/progress.py counts the sources read from the line Prefect's task engine logs as a task run ends
# (sources are read concurrently: it is the live x/y). Its wording is no API: tests/test_compat.py runs a
# task and matches what Prefect really logs.
TASK_FINISHED = "Finished in state"  # Prefect 3: "Finished in state Completed()", "... Failed(...)"


def task_finished(message: str) -> bool:
    """Whether a line of Prefect's task-run logger is the one it logs when the task run ends, in any state."""
    return message.startswith(TASK_FINISHED)


# ---- Prefect's client context ------------------------------------------------------------------------
# 9. The flow's one use of a Prefect API that Prefect's documentation does not list (Prefect 3.9 has no
# public one that does this); tests/test_pipeline.py fails when Prefect moves or changes it.


def prefect_sync_client() -> AbstractContextManager[object]:
    """One Prefect client for every sync task run of a flow run while the block lasts: without it, each
    task run opens its own (~50 ms). Prefect's `prefect.context.SyncClientContext.get_or_create()`,
    imported here only when called: worker processes import this module and never load Prefect."""
    from prefect.context import SyncClientContext

    return SyncClientContext.get_or_create()
