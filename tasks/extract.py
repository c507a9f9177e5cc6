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
~8 ms a page) is switched off for our calls (tasks.compat.without_recall_escalation): measured, F1 the
same on AEB and 0.001 higher on L3S.

The metadata is read from the markup (meta tags, JSON-LD, canonical link), the date too (htmldate's
fast search; nothing after tomorrow), and not at all when the caller has the date already
(`need_date=False`). htmldate's search of the page's text is not used: it costs 10-20 ms a page (and
seconds to load dateparser's languages), and on pages whose markup has no date it often returns a
copyright year: a dispatch dated 2008 would sink to the bottom of the digest, when an undated one
is simply read as today's. Real pages lie about themselves, so:

- the headline is the best attested of what the page states (og:title, JSON-LD), its "headline"
  elements, <title> and <h1>s, with site and section names cut ("… | Entertainment", "CTV Toronto -
  …"), and only if enough of its words are in the text's opening or the URL (see `_title`): a
  site-wide <title>, a logo's or a section's <h1> ("Local Teams") are not;
- the publisher is the name the page gives (og:site_name, JSON-LD publisher, application-name) when
  it looks like one (not "© 2000 Rural Press Ltd.", "January 2008", "6.0", "News > World"), else the
  registrable domain of its URL (bbc.co.uk);
- a <title> left open (the whole page would be its text) is closed before the first tag in it, and
  a line of markup, script or style left as text is recognised (`is_code`) for cleaning to drop.

Deterministic. A page trafilatura rejects as not HTML (a broken first tag) is parsed as lxml can.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from htmldate import find_date
from lxml.etree import ParserError
from tld import get_fld  # its public suffix list is bundled (no download)

# trafilatura's metadata helpers, its bundled readability and its recall escalation switched off: not its
# documented API, so they are taken from tasks/compat.py, where tests/test_compat.py pins them
from tasks.compat import (
    TITLE_XPATHS,
    Metadata,
    Readability,
    examine_meta,
    extract_meta_json,
    extract_metainfo,
    extract_url,
    without_recall_escalation,
)

LOGGER = logging.getLogger(__name__)

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # htmldate's output: the date as the page gives it (original_date), with its zone
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

# a <title> whose text runs into a tag (not its own </title>): <title>BBC News<script …
UNCLOSED_TITLE = re.compile(r"<title\b[^>]*>[^<]*(?=<(?!/title\s*>))", re.IGNORECASE)
TITLE_SEARCH = 100_000  # characters searched for the <title>: it is in the head
# How a prose line ends (lines come stripped): end punctuation, ":" and ";" too, then any closing quotes or
# brackets; or a closing quote or bracket alone (a quotation's end, `… la fin »`). Not tasks.clean's
# LINE_ENDS_SENTENCE, which needs the punctuation (a space may come before the closers) to tell text from a heading.
PROSE_END = re.compile(r"[.!?…:;][\"'”’»)\]]*$|[\"”’»)\]]$")
WORD = re.compile(r"\w")
TITLE_WORD = re.compile(r"[^\W_]{4,}|\d+")
# id or class words of reader-comment containers (as trafilatura's include_comments=False)
COMMENTS = re.compile(r"^(?:comment(?!ary)|disqus|dsq-)|[-_]comments?$", re.IGNORECASE)
BLOCK_TAGS = frozenset(
    "address article aside blockquote dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 header "
    "li ol p pre section table td th tr ul".split()
)


def extract_html(html: str, *, need_date: bool = True, url: str | None = None) -> tuple[str, dict[str, str | None]]:
    """Main text (paragraphs one a line, "" when none) and metadata of an HTML page found at `url`.

    With `need_date=False` (the caller knows when the page was published) meta["date"] is None.
    """
    tree = _parse(html)
    if tree is None:
        return "", {}
    meta, titles, names = _metadata(tree, need_date, url)
    with without_recall_escalation():
        doc = trafilatura.bare_extraction(tree, fast=True, include_comments=False, include_tables=False)
    own = (doc.text or "") if isinstance(doc, Metadata) else ""  # None when it finds nothing (a dict only if asked)
    other = _readability_text(tree)  # last: it edits the tree (trafilatura read a copy)
    text = _check_against_readability(own, other)
    meta["title"] = _title(titles, [meta["site"], *names], text, url or meta["url"])
    return text, meta


def _parse(page: str) -> lxml.html.HtmlElement | None:
    """The page's tree; a page trafilatura rejects (a broken first tag) is parsed as lxml can."""
    page = _with_title_closed(page)
    tree = trafilatura.load_html(page)
    if tree is not None:
        return tree
    try:
        tree = lxml.html.document_fromstring(page)
    except (ParserError, ValueError):
        return None
    return tree if tree.text_content().strip() else None


def _with_title_closed(page: str) -> str:
    """`page` with a <title> that a tag follows before its </title> closed before that tag: left open,
    a parser reads the rest of the page, scripts and all, as the title's text."""
    title = UNCLOSED_TITLE.search(page, 0, TITLE_SEARCH)
    return page if title is None else f"{page[: title.end()]}</title>{page[title.end() :]}"


# --- metadata ---------------------------------------------------------------------------------


def _metadata(
    tree: lxml.html.HtmlElement, need_date: bool, url: str | None
) -> tuple[dict[str, str | None], list[tuple[str, str]], list[str]]:
    """Date, URL, author and publisher of a page (its site's name when that looks like a name, else its
    domain), the candidates for its title with where each is (chosen once the text is known: see
    `_title`) and what it calls its site. As trafilatura's `extract_metadata`, but for its
    searches of the page's body for an author, categories, tags and a licence (slow)."""
    doc = examine_meta(tree)
    if doc.author and " " not in doc.author:  # a one-word author is a handle or a site (as trafilatura)
        doc.author = None
    json_ld = _json_ld(tree)
    doc.author = doc.author or json_ld.author
    doc.url = doc.url or extract_url(tree)
    doc.date = _date(tree, url or doc.url) if need_date else None
    doc.clean_and_trim()
    names = site_names(tree, json_ld, url or doc.url)
    candidates = [
        (doc.title, STATED),
        (json_ld.title, STATED),
        (extract_metainfo(tree, TITLE_XPATHS), "headline"),
        (next((t.text_content() for t in tree.iter("title")), None), "title"),  # in <head> or not
        *((h1.text_content(), "h1") for h1 in tree.iter("h1")),
        (next((h2.text_content() for h2 in tree.iter("h2")), None), "h1"),
    ]  # a page without <h1>s
    publisher = next((name for name in names if looks_like_name(name) and not _subdomain(name, url or doc.url)), None)
    meta = {
        "title": None,
        "date": doc.date,
        "url": doc.url,
        "author": doc.author,
        "site": publisher or registrable_domain(url or doc.url),
    }
    return meta, [(" ".join(html.unescape(title).split()), where) for title, where in candidates if title], names


def _json_ld(tree: lxml.html.HtmlElement) -> Metadata:
    """What the page's JSON-LD says (headline, publisher, author), on its own: not mixed with meta tags."""
    try:
        return extract_meta_json(tree, Metadata())
    except Exception as exc:  # trafilatura's JSON-LD reader fails on odd pages, as it says
        LOGGER.debug("JSON-LD metadata failed: %s", exc)
        return Metadata()


def _date(tree: lxml.html.HtmlElement, url: str | None) -> str | None:
    """Publication date from the markup (meta tags, JSON-LD, <time>, the URL), None when it has none.
    The run has no digest day here: a date after tomorrow (of the clock) is a mistake or a sidebar's."""
    latest = datetime.now(UTC) + timedelta(days=1)
    return find_date(
        tree,
        url=url,
        extensive_search=False,
        max_date=latest.strftime("%Y-%m-%d"),
        outputformat=DATE_FORMAT,
        original_date=True,
    )


# --- markup left as text -------------------------------------------------------------------------

# a tag: <br />, </center>, or one with attributes (<a href="/">); not a bracketed title (<The Palace>)
HTML_TAG = re.compile(r"</?[a-zA-Z][\w:-]*\s*/?>|<[a-zA-Z][\w:-]*[\s/][^<>]*=[^<>]*>|<!--|-->")
SCRIPT_BLOCK = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE)
# a script's idioms; strings joined around a name ('…' + OAS_query + '…'), not 70"+ TV
SCRIPT = re.compile(
    r"\bfunction\s*\(|\b(?:document|window)\.\w|\bvar\s+\w+\s*=|['\"]\s*\+\s*[\w.()]+\s*\+\s*['\"]|"
    r"=>|&&|\|\|"
)
# a statement or a style rule ends with ; { } or opens with } // @import
STATEMENT = re.compile(r"(?:[;{}]|\*/)\s*$|^\s*(?:[{}]|//|/\*|@import\b|@media\b)")
CODE_CHARS = re.compile(r"[{}()\[\];:#=<>+$&|\\\"']")
CODE_SHARE = 0.08  # code characters among a statement's characters; prose ending with ";" has next to none


def is_code(line: str) -> bool:
    """A line of markup, script or style left as text by damaged HTML: a tag or comment, a script's
    idiom, or a statement dense in code characters (`OAS_AD('Top');`, `a{padding:0;color:#fff;}`)."""
    if HTML_TAG.search(line) or SCRIPT.search(line):
        return True
    if not STATEMENT.search(line):
        return False
    statement = line.strip()
    return " " not in statement or len(CODE_CHARS.findall(statement[:-1])) >= CODE_SHARE * len(statement)


def without_markup_lines(text: str) -> tuple[str, list[str]]:
    """`text` with each line holding markup, script or style reduced to the prose around it, or gone
    when it has none (see `without_markup`); and what was cut, a piece a line."""
    lines, cut = [], []
    for line in text.splitlines():
        if is_code(line):
            line, removed = without_markup(line)
            cut.append(removed)
        lines.append(line)
    return "\n".join(lines), cut


def without_markup(line: str) -> tuple[str, str]:
    """The prose of a line holding markup ("" when too little is left to read as a sentence), and what
    was cut from it: its tags, comments and scripts, or the whole line."""
    scripts = [match.group(0) for match in SCRIPT_BLOCK.finditer(line)]
    rest = SCRIPT_BLOCK.sub(" ", line)
    prose = " ".join(HTML_TAG.sub(" ", rest).split())
    if _is_prose(prose) and not is_code(prose):
        return prose, " ".join([*scripts, *HTML_TAG.findall(rest)])
    return "", line


# --- title ------------------------------------------------------------------------------------

# Between a headline and a site's or section's name: "… - ABC News", "… | Entertainment | Television".
SEPARATOR = re.compile(r"\s+(?:[|•·»›>~–—/-]|::|--)\s+")
LEADING_COLON = re.compile(r"^(?P<site>[^:]{2,40}?)\s*:\s+")  # "Bloomberg.com: …", "Star-Telegram.com: …"
TRAILING_COLON = re.compile(r"\s+:\s+(?P<site>[^:]{2,40})$")  # "… : thewest.com.au"
TRAILING_ASIDE = re.compile(r"\s*\((?P<site>[^()]{2,40})\)$")  # "… (from Harrow Times)"
FILE_NAME = re.compile(r"^[\w.-]+\.[a-z]{2,4}$")  # "Purporsaic-alt.css", "index.html": not a headline
TITLE_MAX_WORDS = 30  # longer is a paragraph or a page's whole text, not a headline
SECTION_MAX_WORDS = 3  # "Entertainment", "NBA News Story", "UK Latest": a section, next to a longer part
DATE_LIKE = re.compile(r"^[\d/.\-: ]+$")
# Share of a title's words the text's opening or the URL's path must have, by where the title is: a
# headline the page states (meta tags, JSON-LD), any; one two parts of the page agree on (an <h1> and the
# <title>), any; the <title> or a "headline" element alone, a quarter; an <h1> alone, half (a page's
# <h1>s are as often its logo, its section, "Comment on this article"). A site-wide <title> has few.
# Words compared by their first letters: "mulch", "mulching".
STATED, AGREED = "stated", "agreed"
NEEDED_SUPPORT = {STATED: 0.2, AGREED: 0.1, "headline": 0.25, "title": 0.25, "h1": 0.5}
ALONE = 2  # rank of a title only one part of the page has
STEM = 5
OPENING_WORDS = 300


def _title(candidates: list[tuple[str, str]], names: list[str | None], text: str, url: str | None) -> str | None:
    """The page's headline: of the candidates (meta tags, JSON-LD, "headline" elements, <title>, <h1>s)
    that, with their site and section decorations cut, are headlines with their share of words in the
    text's opening or the URL's path (see NEEDED_SUPPORT), the best attested (stated, agreed, else the
    one with most of its words there); one of a section's few words ("Local Teams") only when no longer
    one is, one word never unless stated, nor the name of a folder of the URL ("Local Sports Wire" at
    /localsportswire/…: a section's)."""
    keys = _name_keys(names, url)
    path = urlsplit(url or "").path
    found = _lower_words(" ".join(text.split()[:OPENING_WORDS]) + " " + path)
    # a folder of one word is a section's ("localsportswire"); one of words joined is a slug ("about-bugs")
    sections = {folder.lower() for folder in path.split("/")[:-1] if folder.isalnum()}
    ranked = []
    for index, (candidate, where) in enumerate(candidates):
        title = _cut(candidate, keys, found)
        if not title or (len(title.split()) <= SECTION_MAX_WORDS and _compact(title) in sections):
            continue
        evidence, support = _evidence(title, where, candidates), _support(title, found)
        if support >= NEEDED_SUPPORT[evidence] and (evidence == STATED or len(title.split()) > 1):
            level = {STATED: 0, AGREED: 1}.get(evidence, ALONE)
            ranked.append(
                (len(title.split()) <= SECTION_MAX_WORDS, level, -support if level == ALONE else 0, index, title)
            )
    return min(ranked)[-1] if ranked else None


def _evidence(title: str, where: str, candidates: list[tuple[str, str]]) -> str:
    """`where` the title is, or AGREED when a candidate from elsewhere in the page holds it too."""
    compact = _compact(title)
    agreed = where != STATED and any(
        other != where and compact in _compact(candidate) for candidate, other in candidates
    )
    return AGREED if agreed else where


def cut_decorations(title: str, names: list[str | None], url: str | None) -> str | None:
    """`title` (a feed's, a record's) without the site and section names around it; None when it holds
    markup or is only such names."""
    return _cut(title, _name_keys(names, url), set())


def _cut(title: str, keys: set[str], found: set[str]) -> str | None:
    """`title` without its decorations: when it has some, the part left with most words in `found` (the
    text's), else the longest; a part of more than a section's words is a headline, a shorter one is
    kept when no such part is left."""
    if is_code(title) or FILE_NAME.match(title) or len(title.split()) > TITLE_MAX_WORDS:
        return None
    title = _without_site_aside(title, keys)
    segments = [part for part in (_without_site_aside(part, keys) for part in SEPARATOR.split(title)) if part.strip()]
    if len(segments) == 1:
        return None if _site_like(segments[0], keys) else segments[0].strip()
    informative = [part for part in segments if not _site_like(part, keys) and not DATE_LIKE.match(part)]
    headlines = [part for part in informative if len(part.split()) > SECTION_MAX_WORDS]
    if headlines and len(headlines) == len(segments):
        return title.strip()  # a headline with a dash of its own
    return max(headlines or informative, key=lambda part: (_found(part, found), len(part)), default=None)


def _without_site_aside(title: str, keys: set[str]) -> str:
    """`title` without a site's name set off by a colon or brackets ("Bloomberg.com: …", "… : PROTRADE",
    "… (from The Bolton News)"); a colon after anything else is the headline's own ("Lyon : le Rhône")."""
    for pattern in (LEADING_COLON, TRAILING_COLON, TRAILING_ASIDE):
        match = pattern.search(title)
        if match and _site_like(match["site"], keys):
            title = pattern.sub("", title, count=1)
    return title


def _name_keys(names: list[str | None], url: str | None) -> set[str]:
    """Letters and digits of the site's names that look like names, of the parts of those that hold a
    name and a motto ("LinkNaija | Nigeria's popular news platform"; not of a headline a page gives as
    its publisher), and of its domain's own label (bbc.co.uk: bbc)."""
    domain = registrable_domain(url) or ""
    parts = [
        part
        for name in names
        if name
        for part in SEPARATOR.split(name)
        if looks_like_name(name) or SEPARATOR.search(name)
    ]
    keys = {_compact(part) for part in parts} | {_compact(domain.split(".")[0]), _compact(domain)}
    return {key for key in keys if len(key) >= 3}


def _site_like(segment: str, keys: set[str]) -> bool:
    """A site's name ("ABC News", "CTV Toronto", "Bloomberg.com"): a segment that is a key, or a few
    words opening or ending with one, or found in one ("Nigeria's popular news platform" of
    "LinkNaija | Nigeria's popular news platform")."""
    compact = _compact(segment)
    if compact in keys:
        return True
    return len(segment.split()) <= SECTION_MAX_WORDS + 1 and any(
        compact.startswith(key) or compact.endswith(key) or (len(compact) >= 3 and compact in key) for key in keys
    )


def _compact(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _lower_words(text: str) -> set[str]:
    """The words of four letters or more (their first `STEM` letters) and the numbers of `text`."""
    return {word.lower()[:STEM] for word in TITLE_WORD.findall(text)}


def _found(title: str, found: set[str]) -> int:
    """How many of a title's words (see `_lower_words`) are in `found`."""
    return sum(word in found for word in _lower_words(title))


def _support(title: str, found: set[str]) -> float:
    """Share of a title's words (see `_lower_words`) in `found`."""
    words = _lower_words(title)
    return _found(title, found) / len(words) if words else 0.0


# --- publisher ---------------------------------------------------------------------------------

# What a publisher's name is not: a copyright line, a date or year, a version number, a section path.
NOT_A_NAME = re.compile(
    r"©|\(c\)|\bcopyright\b|\ball rights\b|\b(?:1[89]|20)\d\d\b|^\W*v?\d+(?:[.,]\d+)*\W*$|"
    r"\s(?:[|>»/:•·]|::|-{1,2}|–|—)\s|^https?:",
    re.IGNORECASE,
)
NAME_MAX_WORDS = 5  # "Pittsburgh Post-Gazette", "The Sydney Morning Herald"; a slogan or a title is longer
DOMAIN_NAME = re.compile(r"[\w-]+(?:\.[\w-]+)+$")


def site_names(tree: lxml.html.HtmlElement, json_ld: Metadata, url: str | None) -> list[str]:
    """What the page calls its site (og:site_name, JSON-LD publisher.name, application-name), as it says
    it; application-name only when its domain agrees (it is as often the software's: "Blogger")."""
    label = _compact((registrable_domain(url) or "").split(".")[0])
    application = [
        name
        for name in tree.xpath("//meta[@name='application-name']/@content")
        if label and label[:3] in _compact(name)
    ]
    named = [*tree.xpath("//meta[@property='og:site_name']/@content"), json_ld.sitename, *application]
    return [name for name in (" ".join(html.unescape(n or "").split()) for n in named) if name]


def looks_like_name(text: str) -> bool:
    """A publisher's name: a few words, not a copyright line, a date, a version, a section path, a
    sentence or markup, not a bare lower-case slug ("nj"; a domain name is a name)."""
    return (
        0 < len(text.split()) <= NAME_MAX_WORDS
        and WORD.search(text) is not None
        and NOT_A_NAME.search(text) is None
        and not text.endswith((".", "!", "?"))
        and not is_code(text)
        and (text != text.lower() or DOMAIN_NAME.match(text) is not None)
    )


def _subdomain(name: str, url: str | None) -> bool:
    """Whether `name` is a plain word that is a label of the host before its registered domain ("Hosted"
    of hosted.ap.org, "Blog" of blog.example.com): a part of a site, not who publishes it (a brand's
    name is not a plain word: "ProFootballTalk" of profootballtalk.nbcsports.com)."""
    host = urlsplit(url or "").hostname or ""
    labels = {label for label in host.removesuffix(registrable_domain(url) or host).split(".") if label}
    return name.isalpha() and name[1:] == name[1:].lower() and name.lower() in labels


def registrable_domain(url: str | None) -> str | None:
    """The domain a publisher registered (news.bbc.co.uk: bbc.co.uk), by the public suffix list that the
    `tld` package bundles (no download); the host itself for suffixes the list lacks (intranets, .example)."""
    host = urlsplit(url or "").hostname
    if not host:
        return None
    return get_fld(host, fix_protocol=True, fail_silently=True) or host.removeprefix("www.")


# --- text ---------------------------------------------------------------------------------------


def _readability_text(tree: lxml.html.HtmlElement) -> str:
    """Text of the region readability picks, a line per block; reader comments left out. Edits `tree`."""
    for el in list(tree.iter("div", "section", "aside", "ol", "ul", "li")):
        if any(COMMENTS.search(word) for word in f"{el.get('id', '')} {el.get('class', '')}".split()):
            el.drop_tree()
    try:
        article = lxml.html.fromstring(Readability(tree).summary())
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
    return len(_words(line)) >= PROSE_MIN_WORDS and PROSE_END.search(line) is not None
