"""Main-text extraction from HTML pages, with the page's metadata.

Two extractors read each page: trafilatura (rules about markup) and readability (the arc90
algorithm, in the copy bundled with trafilatura: it scores text density and picks one region of the
page, reader comments left out). Each is wrong where the other is often right, so the text is
trafilatura's, checked against readability's:

- a paragraph of trafilatura's that readability also has (`SUPPORT_SHARE` of its words) is main text;
- one readability lacks is kept when it reads as prose (a sentence of `PROSE_MIN_WORDS` words or
  more, not a list item or table row) and, when the two mostly agree (`AGREEMENT`), only if it
  continues the text both found: not after a run of menu entries, links, labels or bylines;
  those short lines are dropped;
- prose paragraphs readability has just before the first paragraph both found are added there
  (a lead paragraph trafilatura skipped) and, when what is kept is short of readability's text
  (`SHORT_SHARE`), those between two paragraphs both found too (paragraphs trafilatura skipped);
- when what is left is far shorter than readability's text (`FALLBACK_SHARE`), trafilatura missed
  the article (no text, a menu, a table layout it discards) and readability's text is used.

trafilatura runs in its fast mode: its fallbacks (readability again, jusText) would cost as much as
the check above, which does their work. For the same reason its "recall escalation" (trafilatura
>= 2.3: a short result is extracted again in recall mode after a text dump of the whole page,
~8 ms a page) is switched off for our calls: measured, F1 the same on AEB and 0.001 higher on L3S. The metadata is read from the markup (meta tags, JSON-LD,
title, canonical link), the date too (htmldate's fast search), and not at all when the caller has
the date already (`need_date=False`). htmldate's search of the page's text is not used: it costs
10-20 ms a page (and seconds to load dateparser's languages), and on pages whose markup has no
date it often returns a copyright year: a dispatch dated 2008 would sink to the bottom of the
digest, when an undated one is simply read as today's.

Deterministic. A page trafilatura rejects as not HTML (a broken first tag) is parsed as lxml can.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager
from functools import lru_cache

import lxml.html
import trafilatura
import trafilatura.core
from htmldate import find_date
from lxml.etree import ParserError
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)

try:  # trafilatura's bundled fork of readability-lxml (trafilatura >= 1.4)
    from trafilatura.readability_lxml import Document as _Readability
except ImportError:  # pragma: no cover
    _Readability = None

LOGGER = logging.getLogger(__name__)

DATE_PARAMS = {"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True}
# share of a paragraph's words readability must have for the paragraph to count as found by both
SUPPORT_SHARE = 0.8
# a paragraph readability lacks is kept when it is a sentence of at least this many words...
PROSE_MIN_WORDS = 6
# ...next to the text both found, when that text is at least this share of what would be kept
AGREEMENT = 0.5
# readability's prose between paragraphs both found is added when what is kept is shorter than this
# share of readability's text (when it is not, that prose is mostly captions and asides)
SHORT_SHARE = 0.8
# readability's text replaces trafilatura's when what is left of this is shorter than this share of that
FALLBACK_SHARE = 0.5

SENTENCE_END = re.compile(r"[.!?…:;][\"'”’»)\]]*$|[\"”’»)\]]$")
WORD = re.compile(r"\w")
# id or class words of reader-comment containers (as trafilatura's include_comments=False)
COMMENTS = re.compile(r"^(?:comment(?!ary)|disqus|dsq-)|[-_]comments?$", re.IGNORECASE)
BLOCK_TAGS = frozenset(
    "address article aside blockquote dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 header "
    "li ol p pre section table td th tr ul".split()
)


def extract_html(html: str, *, need_date: bool = True) -> tuple[str, dict]:
    """Main text (paragraphs one a line, "" when none) and metadata of an HTML page.

    With `need_date=False` (the caller knows when the page was published) meta["date"] is None.
    """
    tree = _parse(html)
    if tree is None:
        return "", {}
    meta = _metadata(tree, need_date)
    with _without_recall_escalation():
        doc = trafilatura.bare_extraction(tree, fast=True, include_comments=False, include_tables=False)
    own = (doc.text or "") if doc is not None else ""
    other = _readability_text(tree)  # last: it edits the tree (trafilatura read a copy)
    return _check_against_readability(own, other), meta


_ESCALATION_LOCK = threading.Lock()


@contextmanager
def _without_recall_escalation():
    """trafilatura with its recall escalation off (it has no option for it: its size gate is set to 0,
    for our call only; the lock keeps another thread of ours from restoring it meanwhile)."""
    if not hasattr(trafilatura.core, "ESCALATION_MAX_LENGTH"):  # trafilatura < 2.3 has none
        yield
        return
    with _ESCALATION_LOCK:
        saved, trafilatura.core.ESCALATION_MAX_LENGTH = trafilatura.core.ESCALATION_MAX_LENGTH, 0
        try:
            yield
        finally:
            trafilatura.core.ESCALATION_MAX_LENGTH = saved


def _parse(html: str) -> lxml.html.HtmlElement | None:
    """The page's tree; a page trafilatura rejects (a broken first tag) is parsed as lxml can."""
    tree = trafilatura.load_html(html)
    if tree is not None:
        return tree
    try:
        tree = lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return None
    return tree if tree.text_content().strip() else None


# --- metadata ---------------------------------------------------------------------------------


def _metadata(tree: lxml.html.HtmlElement, need_date: bool) -> dict:
    """Title, date, URL, author and site of a page, as trafilatura's `extract_metadata` finds them
    but for its searches of the page's body for an author, categories, tags and a licence (slow)."""
    doc = examine_meta(tree)
    if doc.author and " " not in doc.author:  # a one-word author is a handle or a site (as trafilatura)
        doc.author = None
    try:
        doc = extract_meta_json(tree, doc)
    except Exception as exc:  # trafilatura's JSON-LD reader fails on odd pages, as it says
        LOGGER.debug("JSON-LD metadata failed: %s", exc)
    doc.title = doc.title or extract_title(tree)
    doc.url = doc.url or extract_url(tree)
    doc.sitename = _site_name(doc.sitename or extract_sitename(tree), doc.url)
    doc.date = _date(tree, doc.url) if need_date else None
    doc.clean_and_trim()
    return {"title": doc.title, "date": doc.date, "url": doc.url, "author": doc.author, "site": doc.sitename}


def _site_name(named: str | None, url: str | None) -> str | None:
    """The site's name as the page gives it (capitalised), else its host name."""
    name = (named or "").lstrip("@")
    if name:
        return name if "." in name or name[0].isupper() else name.title()
    host = META_URL.match(url or "")
    return host[1] if host else None


def _date(tree: lxml.html.HtmlElement, url: str | None) -> str | None:
    """Publication date from the markup (meta tags, JSON-LD, <time>, the URL), None when it has none."""
    return find_date(tree, url=url, extensive_search=False, **DATE_PARAMS)


# --- text ---------------------------------------------------------------------------------------


def _readability_text(tree: lxml.html.HtmlElement) -> str:
    """Text of the region readability picks, a line per block; reader comments left out. Edits `tree`."""
    if _Readability is None:  # pragma: no cover
        return ""
    for el in list(tree.iter("div", "section", "aside", "ol", "ul", "li")):
        if any(COMMENTS.search(word) for word in f"{el.get('id', '')} {el.get('class', '')}".split()):
            el.drop_tree()
    try:
        article = lxml.html.fromstring(_Readability(tree).summary())
    except Exception as exc:  # readability fails on odd pages: then it has nothing to say
        LOGGER.debug("readability failed: %s", exc)
        return ""
    return block_text(article)


def block_text(element: lxml.html.HtmlElement) -> str:
    """Text of an element, a line per block element (paragraph, list item, heading...)."""
    for el in element.iter():
        if el.tag in BLOCK_TAGS:
            el.text = "\n" + (el.text or "")
            el.tail = "\n" + (el.tail or "")
        elif el.tag == "br":
            el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in element.text_content().splitlines())
    return "\n".join(line for line in lines if line)


@lru_cache(maxsize=4096)  # the check asks for the words of the same lines many times
def _words(line: str) -> tuple[str, ...]:
    return tuple(token for token in line.split() if WORD.search(token))


def _check_against_readability(own: str, other: str) -> str:
    """trafilatura's text `own` checked against readability's `other` (see the module's doc)."""
    lines = [line.strip() for line in own.splitlines() if _words(line)]
    others = [line.strip() for line in other.splitlines() if _words(line)]
    if not lines or not others:
        return "\n".join(lines or others)
    other_words = [word for line in others for word in _words(line)]
    found = set(other_words)
    sizes = [len(_words(line)) for line in lines]
    both = [_share(_words(line), found) >= SUPPORT_SHARE for line in lines]
    prose = [_is_prose(line) for line in lines]
    keep = [b or p for b, p in zip(both, prose)]
    agreed = sum(n for n, b in zip(sizes, both) if b)
    if agreed >= AGREEMENT * sum(n for n, k in zip(sizes, keep) if k):
        keep = _connected(both, prose)
    kept_size = sum(n for n, k in zip(sizes, keep) if k)
    if kept_size < FALLBACK_SHARE * len(other_words):
        return "\n".join(others)
    kept = [line for line, k in zip(lines, keep) if k]
    return "\n".join(_with_readability_prose(kept, others, between=kept_size < SHORT_SHARE * len(other_words)))


def _connected(both: list[bool], prose: list[bool]) -> list[bool]:
    """The lines both found, and the prose lines next to them (directly or through other prose)."""
    keep = list(both)
    for order in (range(len(keep)), range(len(keep) - 1, -1, -1)):
        previous = False
        for i in order:
            keep[i] = keep[i] or (prose[i] and previous)
            previous = keep[i]
    return keep


def _with_readability_prose(kept: list[str], others: list[str], between: bool) -> list[str]:
    """`kept` with the prose paragraphs readability has just before the first one both found and,
    when `between`, between two both found, each after the paragraph readability has before it."""
    kept_words = set(_words("\n".join(kept)))
    found = [_share(_words(line), kept_words) >= SUPPORT_SHARE for line in others]
    if True not in found:
        return kept
    first, last = found.index(True), len(found) - 1 - found[::-1].index(True)
    start = first
    while start and _is_prose(others[start - 1]):
        start -= 1
    result = list(kept)
    at = _most_like(result, others[first])
    result[at:at] = others[start:first]
    at += first - start
    for line, both in zip(others[first + 1 : last], found[first + 1 : last]) if between else ():
        if both:
            at = _most_like(result, line)
        elif _is_prose(line):
            at += 1
            result.insert(at, line)
    return result


def _most_like(lines: list[str], line: str) -> int:
    """Index of the first of `lines` with the largest share of its words in `line`."""
    words = set(_words(line))
    return max(range(len(lines)), key=lambda i: (_share(_words(lines[i]), words), -i))


def _share(words: tuple[str, ...], found: set[str]) -> float:
    return sum(word in found for word in words) / len(words) if words else 0.0


def _is_prose(line: str) -> bool:
    """A sentence, not a list item or table row: enough words and a sentence's last character."""
    if line.startswith(("- ", "* ", "| ")):
        return False
    return len(_words(line)) >= PROSE_MIN_WORDS and SENTENCE_END.search(line) is not None
