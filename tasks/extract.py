"""Main-text extraction from HTML pages, with the page's metadata.

Two extractors read each page: trafilatura (rules about markup, with its own fallbacks; it also
gives the metadata) and readability (the arc90 algorithm, in the copy bundled with trafilatura:
it scores text density and picks one region of the page, reader comments left out). Each is wrong
where the other is often right, so the text is trafilatura's, checked against readability's:

- a paragraph of trafilatura's that readability also has (`SUPPORT_SHARE` of its words) is main text;
- one readability lacks is kept when it reads as prose (a sentence of `PROSE_MIN_WORDS` words or
  more, not a list item or table row) and, when the two mostly agree (`AGREEMENT`), only if it
  continues the text both found: not after a run of menu entries, links, labels or bylines;
  those short lines are dropped;
- prose paragraphs readability has just before the first paragraph both found are added there
  (a lead paragraph trafilatura skipped);
- when what is left is far shorter than readability's text (`FALLBACK_SHARE`), trafilatura missed
  the article (no text, a menu, a table layout it discards) and readability's text is used.

Deterministic. A page trafilatura rejects as not HTML (a broken first tag) is parsed as lxml can.
"""

from __future__ import annotations

import logging
import re
from copy import deepcopy

import lxml.html
import trafilatura
from lxml.etree import ParserError

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


def extract_html(html: str) -> tuple[str, dict]:
    """Main text (paragraphs one a line, "" when none) and metadata of an HTML page."""
    tree = _parse(html)
    if tree is None:
        return "", {}
    other = _readability_text(tree)  # first: it works on a copy, the rest may edit the tree
    doc = trafilatura.bare_extraction(
        tree,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params=dict(DATE_PARAMS),
    )
    own = (doc.text or "") if doc is not None else ""
    if doc is None:  # no text long enough for trafilatura: the metadata still counts
        doc = trafilatura.extract_metadata(tree, date_config=dict(DATE_PARAMS))
    text = _check_against_readability(own, other)
    meta = {"title": doc.title, "date": doc.date, "url": doc.url, "author": doc.author, "site": doc.sitename}
    return text, meta


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


def _readability_text(tree: lxml.html.HtmlElement) -> str:
    """Text of the region readability picks, a line per block; reader comments left out."""
    if _Readability is None:  # pragma: no cover
        return ""
    tree = deepcopy(tree)  # readability edits the tree it reads
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


def _words(line: str) -> list[str]:
    return [token for token in line.split() if WORD.search(token)]


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
    if sum(n for n, k in zip(sizes, keep) if k) < FALLBACK_SHARE * len(other_words):
        return "\n".join(others)
    return "\n".join(_with_lead([line for line, k in zip(lines, keep) if k], others))


def _connected(both: list[bool], prose: list[bool]) -> list[bool]:
    """The lines both found, and the prose lines next to them (directly or through other prose)."""
    keep = list(both)
    for order in (range(len(keep)), range(len(keep) - 1, -1, -1)):
        previous = False
        for i in order:
            keep[i] = keep[i] or (prose[i] and previous)
            previous = keep[i]
    return keep


def _with_lead(kept: list[str], others: list[str]) -> list[str]:
    """`kept` with the prose paragraphs readability has just before the first one both found."""
    kept_words = set(_words("\n".join(kept)))
    first = next((i for i, line in enumerate(others) if _share(_words(line), kept_words) >= SUPPORT_SHARE), 0)
    if not first:  # nothing both found, or nothing before it
        return kept
    lead = []
    for line in reversed(others[:first]):
        if not _is_prose(line):
            break
        lead.insert(0, line)
    if not lead:
        return kept
    anchor = set(_words(others[first]))
    at = max(range(len(kept)), key=lambda i: (_share(_words(kept[i]), anchor), -i))
    return kept[:at] + lead + kept[at:]


def _share(words: list[str], found: set[str]) -> float:
    return sum(word in found for word in words) / len(words) if words else 0.0


def _is_prose(line: str) -> bool:
    """A sentence, not a list item or table row: enough words and a sentence's last character."""
    if line.startswith(("- ", "* ", "| ")):
        return False
    return len(_words(line)) >= PROSE_MIN_WORDS and SENTENCE_END.search(line) is not None
