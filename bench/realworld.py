"""Real pages from the web, digested as a user would (issue 17's "Measure it").

The development halves of ../shared/bench/extraction (420 article pages, each with its original URL)
are written as a crawl dump (a `.jsonl` of {"html", "url"} records) read by a `files` source, and
the real `daily-digest` flow digests them in a fresh process against a Prefect server (a temporary
one unless PREFECT_API_URL is set), with a fresh store. Each input file is one crawl and one run:
the L3S-GN1 pages are a Google News crawl of January 2008, the AEB pages one of November 2019, and
a user's crawl dump holds one period, not two twelve years apart. A run's day is the newest date
in its pages' URLs (a crawl is not older than its newest article), else today.

Rules written here, not imported from tasks/, read the JSON digest as a reviewer would and count
issue 17's table: markup in what a reader sees, outlets that are not publishers, headlines that are
not titles, summary sentences an editor would strike, pairs of sentences saying one thing, stories
in another language than their label; then each day runs again on a fresh store, with another
PYTHONHASHSEED, and the .md, .html and .json must be byte-identical. `--commit REV` measures a clean
export of a commit instead of the working tree, where others' edits may land during a run.

    .venv/bin/python bench/realworld.py [--pages FILE.jsonl.gz|DIR ...] [--limit N] [--list] [--json OUT]
                                        [--commit REV] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "bench" / "extraction"
SOURCE_NAME = "crawl"  # the files source's name in the config: an outlet must never be this
FORMATS = ("md", "html", "json")


# ---- what a reader must never see: markup and code --------------------------------------------

TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>|<!--|-->|<!\[CDATA\[|\]\]>")
ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
CSS = re.compile(r"\{[^{}]*\b[a-z-]+\s*:\s*[^{};]+;[^{}]*\}|[a-z-]+\s*:\s*[^;{}\s]+;\s*[a-z-]+\s*:\s*[^;{}\s]+;")
SCRIPT = re.compile(
    r"\bfunction\s*\w*\s*\([^)]*\)\s*\{|\bvar\s+\w+\s*=|\bdocument\.\w+|\bwindow\.\w+\s*[=(.]"
    r"|\}\s*\)\s*;|\w\s*=>\s*[{(\w]|\)\s*\{\s*$|\bif\s*\([^)]*\)\s*\{|\w+\s*\(\s*\)\s*;"
)


def markup(text: str) -> str | None:
    """What kind of markup or code `text` holds, if any."""
    for kind, pattern in (("tag", TAG), ("raw entity", ENTITY), ("CSS", CSS), ("script", SCRIPT)):
        found = pattern.search(text)
        if found:
            return f"{kind} {found.group(0)[:40]!r}"
    return None


# ---- outlets: who published it ---------------------------------------------------------------

MONTHS = (
    r"jan(?:uary|vier)?|feb(?:ruary)?|f[ée]vr(?:ier)?|mar(?:ch|s)?|apr(?:il)?|avr(?:il)?|may|mai|"
    r"june?|juin|july?|juil(?:let)?|aug(?:ust)?|ao[uû]t|sept?(?:ember|embre)?|oct(?:ober|obre)?|"
    r"nov(?:ember|embre)?|dec(?:ember)?|d[ée]c(?:embre)?"
)
WEEKDAYS = (
    r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?|"
    r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
)
DATE_PARTS = re.compile(
    rf"\([^)]*\)|\b(?:{WEEKDAYS})\b\.?|\b(?:{MONTHS})\b\.?|\d+(?:st|nd|rd|th|er)?|[^\w(]+|_", re.IGNORECASE
)
DATE_NUMBERS = re.compile(
    r"^\d{1,4}[-/]\d{1,2}(?:[-/]\d{1,4})?(?:[ T][\d:.]+)?$|^\d{1,2}\.\d{1,2}\.\d{2,4}$|"
    r"^(?:19|20)\d\d$"
)
NUMBER = re.compile(r"^[vV]?[\d\s.,:/#%-]+$")
YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# "from planet-f1.com", "by Staff": a phrase; a name may start in lower case ("the Guardian", "pv magazine")
PHRASE_STARTS = {
    "from",
    "by",
    "via",
    "at",
    "in",
    "on",
    "of",
    "and",
    "or",
    "with",
    "for",
    "posted",
    "published",
    "updated",
    "written",
    "source",
    "sources",
}
COPYRIGHT = re.compile(r"©|\(c\)|\bcopyright\b|\ball rights\b|\btous droits\b|\bdroits réservés\b", re.IGNORECASE)
# "SignOnSanDiego.com > News", "Goal.com - Chelsea"
SECTION_PATH = re.compile(r"\s[|>»/]\s|::|\s›\s|\s[-–—]{1,2}\s")
SENTENCE_END = re.compile(r"(?:\b[a-z]{3,}[.!?]|[:;,])$")  # "reserved.", "said!", a trailing colon; not "Inc."


def outlet_problem(outlet: str | None, titles: Iterable[str], url: str | None = None) -> str | None:
    """Why `outlet` is not a publisher's name (a reviewer's rule), or None. `url`: the page's."""
    name = " ".join((outlet or "").split())
    words = name.split() or [""]
    checks = (
        (not name, "empty"),
        (name.casefold() == SOURCE_NAME, "the files source's own name"),
        (markup(name) is not None, "markup"),
        (bool(COPYRIGHT.search(name)), "a copyright line"),
        (bool(DATE_NUMBERS.match(name)), "a date"),
        (bool(NUMBER.match(name)), "a number or version"),
        (is_date(name), "a date"),
        (bool(YEAR.search(name)), "holds a year (a copyright line's)"),
        (name.casefold().startswith("welcome to"), "a greeting"),
        (words[0].casefold() in PHRASE_STARTS, "begins like a phrase, not a name"),
        (name.casefold() in _subdomains(url), "a subdomain's label, not the publisher"),
        (len(words) > 6, "more than six words"),
        (bool(SENTENCE_END.search(name)), "ends like a sentence"),
        (bool(SECTION_PATH.search(name)), "a section path"),
        (any(_holds_title(name, title) for title in titles), "the page's title"),
    )
    return next((why for failed, why in checks if failed), None)


def _holds_title(name: str, title: str) -> bool:
    """The outlet is, or holds, a title of the page, or its headline part ("T.J. Ford Cleared To
    Practice" of "T.J. Ford Cleared To Practice - CBS 11"); three words or more: a name may be short."""
    title = " ".join(title.split()).casefold()
    headline = max(SEPARATOR.split(title), key=len).strip()  # four words at least: the site's part may be longest
    name = name.casefold()
    return (len(title.split()) >= 3 and title in name) or (len(headline.split()) >= 4 and headline == name)


def is_date(text: str) -> bool:
    """Only a date: months, weekdays, numbers and punctuation ("January 08, 2008", "Monday, January 14,
    2008 (Mumbai):")."""
    return not DATE_PARTS.sub("", text).strip() and any(c.isdigit() for c in text)


def _subdomains(url: str | None) -> set[str]:
    """The host's generic labels before its registrable domain ("hosted" of hosted.ap.org): no
    publisher's name. A named one may be (profootballtalk.nbcsports.com)."""
    labels = (urlsplit(url or "").hostname or "").split(".")
    second_level = len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in {"co", "com", "net", "org", "ac", "gov"}
    kept = 3 if second_level else 2  # bbc.co.uk, ap.org
    return set(labels[:-kept]) & GENERIC_SUBDOMAINS


GENERIC_SUBDOMAINS = {
    "hosted",
    "news",
    "blogs",
    "blog",
    "edition",
    "apps",
    "app",
    "story",
    "stories",
    "article",
    "articles",
    "web",
    "mobile",
    "home",
    "feeds",
    "rss",
    "sport",
    "sports",
    "local",
    "online",
    "en",
}


# ---- headlines: an article's title -----------------------------------------------------------

FILE_NAME = re.compile(
    r"^\S+\.(?:css|js|php\d?|aspx?|jsp|cfm|s?html?|jpe?g|png|gif|svg|xml|json|txt|pdf|rss)$", re.IGNORECASE
)
SEPARATOR = re.compile(r"\s+(?:[|\-–—·•»/]|--)\s+|\s*::\s*|\s+\|\s*|\s*\|\s+")
FROM_SITE = re.compile(r"\(from ([^)]+)\)$", re.IGNORECASE)  # "… (from The Bolton News)"
SECTION_WORDS = re.compile(
    r"(?:world|national|international|business|sports?|entertainment|tech(?:nology)?|politics|"
    r"weather|traffic|video|money|finance|"
    r"health|science|local|opinion|lifestyle|travel|arts|culture|columnists|summary|general|"
    r"breaking news|latest news|news|uk|us|europe|asia|africa|americas|middle east)",
    re.I,
)
PREFIX = re.compile(r"^([^:]{2,40}):\s")  # "Bloomberg.com: …"
DOMAIN = re.compile(r"\b[\w-]+\.(?:com|net|org|info|biz|co\.uk|com\.au|co|ca|uk|au|in|de|fr|tv|fm|us)\b", re.I)
MEDIA_WORDS = re.compile(
    r"\b(?:news|online|tv|radio|times|post|herald|tribune|journal|daily|gazette|telegraph|"
    r"network|press|wire|magazine|channel|broadcasting|site|website|homepage|portal|"
    r"blog|weekly|chronicle|observer|courier|mirror|express|examiner|star|sun|today|"
    r"mercury|bulletin|inquirer|reporter|dispatch|standard|independent|guardian)\b",
    re.I,
)


def headline_problem(headline: str, site_names: Iterable[str], title: str = "a title") -> str | None:
    """Why `headline` is not an article's title (a reviewer's rule), or None. `site_names`: the
    story's outlets, its pages' site names and host names; `title`: one its pages hold, if any (a
    cut lead is then no headline; on pages without any, it is the best there is)."""
    text = " ".join(headline.split())
    words = text.split()
    sites = {_letters(s) for s in site_names if len(_letters(s)) >= 3}
    checks = (
        (markup(text) is not None, "markup"),
        (bool(FILE_NAME.match(text)), "a file name"),
        (len(words) < 3, "fewer than three words"),
        (bool({_letters(text), _letters(re.sub(r"^the\s+", "", text, flags=re.I))} & sites), "the site's name"),
        (is_date(text), "a date"),
        (_looks_like_a_site(words), "a site or section name"),
        (len(words) > 30, "longer than a headline"),
        (bool(title) and _reads_as_a_lead(text), f"a cut lead while a page holds a title ({title[:80]!r})"),
        (decoration(text, sites) is not None, f"a site decoration left ({decoration(text, sites)!r})"),
    )
    return next((why for failed, why in checks if failed), None)


def _reads_as_a_lead(text: str) -> bool:
    """Cut with "…", or a sentence of six words or more ending with a full stop (not "7:30 P.m.")."""
    last = text.split()[-1] if text.split() else ""
    return text.endswith(("…", "...")) or (len(text.split()) >= 6 and last.endswith(".") and last.count(".") == 1)


def _looks_like_a_site(words: list[str]) -> bool:
    """A short name in title case ending with what it is: "A Netsports Site", "Sky Sports News"."""
    return 0 < len(words) <= 5 and _named(words) and bool(MEDIA_WORDS.fullmatch(words[-1].strip(".:,")))


def _named(words: list[str]) -> bool:
    """Every word capitalised (or a number, or a small joining word), as in a name."""
    return all(
        w[:1].isupper() or w[:1].isdigit() or w.casefold() in {"a", "the", "of", "and", "&", "de"} for w in words
    )


def decoration(headline: str, sites: set[str]) -> str | None:
    """The site or section part left on a headline: "… - ABC News", "… | World | Europe",
    "Bloomberg.com: …", "CTV Toronto - …", "… - National - General", "… (from The Bolton News)";
    None when the parts are all the article's."""
    parts = [p.strip() for p in SEPARATOR.split(headline) if p.strip()]
    if headline.count("|") >= 2 or FROM_SITE.search(headline):
        return headline
    # Of three parts or more, the longest is the article's title; of two, either may be the site.
    others = parts if len(parts) == 2 else [p for p in parts if p != max(parts, key=len)] if len(parts) > 2 else []
    prefix = PREFIX.match(headline)
    candidates = others + ([prefix.group(1)] if prefix else [])
    piped = any(mark in headline for mark in ("|", "::", " / "))  # a site's separators, never a headline's
    found = next((part for part in candidates if _is_site(part, sites, piped) or _sections(part)), None)
    trail = len(parts) >= 3 and all(len(p.split()) <= 2 and _named(p.split()) for p in others)
    return found or (" - ".join(others) if trail else None)


def _sections(part: str) -> bool:
    """Section names only: "World", "News, Sports and Entertainment"."""
    return all(SECTION_WORDS.fullmatch(item) for item in re.split(r",\s*|\s+and\s+|\s*&\s*", part))


def _is_site(part: str, sites: set[str], piped: bool) -> bool:
    """A domain, a name ending with a media word ("ABC News", not "Daily Deals" nor "… third today"; after a
    pipe, any media word), or one of the story's sites."""
    words, letters = part.split(), _letters(part)
    if len(words) > 4:
        return False
    media = bool(MEDIA_WORDS.search(part)) if piped else _looks_like_a_site(words)
    return (
        bool(DOMAIN.search(part))
        or media
        or any(site in letters or letters in site for site in sites if len(letters) >= 3)
    )


def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def site_names(url: str | None, page_site_name: str | None) -> list[str]:
    """A page's own names: its site name, its host and the host's distinctive label ("abc" of abc.net.au)."""
    host = urlsplit(url or "").hostname or ""
    host = host.removeprefix("www.")
    labels = [label for label in host.split(".") if label not in GENERIC_LABELS]
    return [name for name in (page_site_name, host, labels[0] if labels else None) if name]


GENERIC_LABELS = {"www", "news", "com", "net", "org", "co", "uk", "au", "ca", "in", "de", "fr", "edition", "m"}


# ---- summary sentences an editor would strike --------------------------------------------------

BOILERPLATE = re.compile(
    r"©|\bcopyright\s*(?:\(c\)|\d{4})|\bcopyrighted material\b|\ball rights reserved\b|\bmay not be (?:re)?published\b|"
    r"\bmay not be [\w ,]*redistributed\b|"
    r"\bclick here\b|\(reporting by\b|\bediting by\b|\bcompiled by\b|^(?:please )?(?:subscribe|sign up|register|log ?in)\b|"
    r"\bsubscribe (?:now|today|here|to (?:our|the))\b|\b(?:our|free|daily|weekly) newsletters?\b|"
    r"\blog ?in to\b|\bregister (?:now|here|to|for free)\b|\b(?:leave|post|add|write) (?:a |your )?comments?\b|"
    r"\bcomments? \(\d+\)|\bhave your say\b|\bjoin the (?:conversation|discussion|debate)\b|\bshare this\b|"
    r"\be-?mail this\b|\bprint this\b|\bfollow us\b|\bread more\b|\bcontinue reading\b|"
    r"^(?:see |view )?more\s*(?:\.\.\.|…|»)\s*$|"
    r"^advertisement\b|\bbet (?:now|here|on this)\b|\bfree bets?\b|\bplace (?:a |your )?bets?\b|\bsportsbook\b|"
    r"^(?:read |see )?(?:our |the )?(?:terms of (?:use|service)|privacy policy)\b|"
    r"\brelated (?:stories|articles|links|coverage)\s*:|"
    r"\blire aussi\b|\babonnez-vous\b|\btous droits\b|"
    r"\bclicking (?:on )?(?:the|these|this) links?\b|\b(?:comments?|print|e-?mail|share)\s+(?:print|e-?mail|share|save)\b|"
    r"\bbest viewed\b|\bcheck out our\b|\bphoto gallery\b|\b(?:exclude|remove|delete)s? comments\b|"
    r"\bcomments? (?:policy|guidelines)\b|\b[\w.+-]+@[\w-]+\.[\w.]+\b|^link\s*:|(?:\s\|\s.*){2}",
    re.IGNORECASE,
)
BYLINE = re.compile(r"^By [A-Z][A-Z'’.-]+(?: [A-Z][A-Z'’.-]+)+\b")  # "By LESLIE BREFELD Summit Daily News …"
CAPTION = re.compile(
    r"\(\s*(?:AP|AFP|Reuters|Getty|EPA|PA|CP)?\s*(?:photo|image|file)\b|\bphoto(?:graph)?\s*(?:by\b|:|credit)|"
    r"\b(?:AP|AFP|REUTERS|Reuters|Getty Images|EPA|Bloomberg)\s*/\s*[A-Z]|\bfile (?:photo|picture)\b|"
    r"\bpictured (?:above|below|here|left|right|with|at|on|in)\b|\bimage (?:copyright|caption)\b|"
    r"\bphoto caption\b|\bcaption\s*:|\bcredit\s*:|\b(?:click|tap) to enlarge\b|\benlarge (?:this )?(?:photo|image)\b|"
    r"\b(?:AP|AFP|Reuters|Getty|EPA) (?:photo|graphic|images?)\b|^(?:cover |main |top )?(?:image|photo|picture)\s*:",
    re.IGNORECASE,
)
DASH = r"(?:[-–—_]{1,2}|:)"  # 2008 AP copy wrote "Fairfield (AP) _ …"
DATELINE = re.compile(
    r"^[-–—]+\s|"  # a leading dash: what is left of a cut dateline
    r"^\([^)]{1,40}\)\s*[-–—_]{1,2}\s|"  # an agency left: "(Sports Network) - …"
    # "WASHINGTON (AP) Congress …"
    r"^[A-Z][A-Z.'’]+(?:[ ,-]+[A-Z][A-Z.'’]+)*\s*\((?:[A-Z]{2,6}|Reuters|Bloomberg)\)\s|"
    # "OTTAWA - ", "NEW YORK, NY (Sports Network) -", "NEW DELHI: "
    rf"^[A-Z][A-Z.'’]+(?:[ -][A-Z][A-Z.'’]+)*(?:,\s*[A-Za-z.'’ ]{{2,30}})?\s*(?:\([^)]{{1,40}}\))?\s*{DASH}\s|"
    # "London (Reuters) - ", "Meadow Lake, Sask. (CP) - "; not a score: "Viera (4-0):"
    rf"^[A-Z][\w.'’ -]{{1,40}}(?:,\s*[\w.'’ ]{{1,30}})?\s*\((?![\d-]+\))[^)]{{1,40}}\)\s*{DASH}\s"
)
VERBS = {
    "en": re.compile(
        r"\b(?:is|are|was|were|be|been|being|am|has|have|had|do|does|did|will|would|shall|should|can|"
        r"could|may|might|must|said|says|say|told|tells|got|gets|made|makes|went|goes|came|comes|took|"
        r"takes|won|wins|lost|saw|sees|gave|gives|left|put|set|hit|cut|let|ran|run|began|begin|found|"
        r"thinks|thought|knew|knows|became|become|held|holds|kept|keeps|brought|felt|fell|met|paid|"
        r"sent|spent|stood|led|leads|sold|built|want|need|like|look|use|work|call|try|ask|feel|"
        r"touch|watch|play|help|show|move|live|believe|hold|bring|happen|write|sit|stand|pay|"
        r"meet|include|continue|learn|change|lead|understand|speak|read|spend|grow|open|walk|"
        r"offer|remember|love|consider|appear|buy|wait|serve|die|send|expect|build|stay|fall|"
        r"reach|kill|remain|suggest|raise|pass|sell|require|report|decide|pull|win|lose|"
        r"get|go|come|see|know|think|give|find|tell|leave|keep|begin|seem|turn|start|hear|plan|"
        r"\w+['’](?:s|re|ve|ll|d|m|t)|\w+ed|\w+ing|\w{2,}[^s\W]s)\b",
        re.IGNORECASE,
    ),
    "fr": re.compile(
        r"\b(?:est|sont|était|étaient|été|être|sera|seront|serait|a|ont|avait|avaient|aura|auront|"
        r"fait|font|dit|disent|peut|peuvent|doit|doivent|va|vont|faut|"
        r"\w+(?:é|ée|és|ées|ait|aient|ent|er|ir|ra|ront|rait|rez|ez|it|ut))\b",
        re.IGNORECASE,
    ),
}
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*|\d+(?:[.,]\d+)*")


def sentence_problem(sentence: str, language: str = "en") -> str | None:
    """Why an editor would strike `sentence` from a summary (a reviewer's rule), or None."""
    text = " ".join(sentence.split())
    words = WORD.findall(text)
    opening = re.sub(r"^[\W\d_]+", "", text)
    checks = (
        (markup(text) is not None, "markup"),
        (bool(BOILERPLATE.search(text) or BYLINE.match(text)), "boilerplate"),
        (bool(CAPTION.search(text)), "a photo caption"),
        (bool(DATELINE.match(text)), "a dateline"),
        (
            bool(opening) and opening[0].islower() and not re.match(r"[a-z]+[A-Z]", opening),
            "a fragment: lower-case start",
        ),
        (len(words) < 6, "a fragment: under six words"),
        (len(words) < 12 and language in VERBS and not _has_verb(text, language), "a fragment: no verb"),
        (text.rstrip("\"'”’» )").endswith(":"), "a lead-in (ends with a colon)"),
        (len(words) > 80, f"glued lines ({len(words)} words)"),
        (not re.search(r"[.!?…:;\"'”’»)\]]$", text), "a fragment: no end punctuation (cut, or a heading)"),
    )
    return next((why for failed, why in checks if failed), None)


def _has_verb(text: str, language: str) -> bool:
    pattern = VERBS.get(language)
    return pattern is None or bool(pattern.search(text))


# ---- two sentences of a story saying one thing --------------------------------------------------

STOP_WORDS = set(
    """a an the and or but of to in on at for with by from as is are was were be been has have had it its
this that these those he she they we you i his her their our not no will would said says also than then there
against after before over under about into out up down who which what when where while all one two more most
le la les un une des du de et ou mais à au aux en dans sur par pour avec est sont a ont été il elle ils elles
qui que ne pas se sa son ses leur leurs ce cette ces""".split()
)


def content_words(sentence: str) -> set[str]:
    """Lower-case content words and numbers. Names are left out: every sentence of a story names its
    actors, so sharing them does not make two sentences say one thing."""
    words = WORD.findall(sentence)
    return {
        w.casefold().rstrip("'’s")
        for n, w in enumerate(words)
        if w.casefold() not in STOP_WORDS and (n == 0 or not w[:1].isupper())
    }


def same_thing(first: str, second: str, share: float = 0.8) -> bool:
    """The shorter sentence's content words are mostly in the other one (at least four of them), and
    its numbers all are: "Viera (4-0): 1 goal" and "Viera (3-0): 1 goal" are two results."""
    a, b = sorted((content_words(first), content_words(second)), key=len)
    numbers = {w for w in a if w[:1].isdigit()}
    return len(a) >= 4 and len(a & b) / len(a) >= share and numbers <= b


# ---- languages ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _identifier():
    """py3langid over every language it knows, with probabilities."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_problem(text: str, label: str, confidence: float = 0.9) -> str | None:
    """The language `text` is in, when it is surely not `label` (long enough to tell: 80 characters)."""
    if len(text) < 80:
        return None
    found, probability = _identifier().classify(text)
    return (
        f"{found}, labelled {label} (p = {probability:.2f})" if found != label and probability >= confidence else None
    )


# ---- the pages, as a crawl dump ----------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    dataset: str
    url: str
    html: str


@dataclass(frozen=True)
class PageNames:
    """What a page's own markup calls it, read here (not by the project's extractor)."""

    titles: tuple[str, ...]
    site_name: str | None


def load_pages(paths: list[Path], limit: int | None) -> list[Page]:
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.glob("*.dev.jsonl.gz")))
    pages = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                row = json.loads(line)
                pages.append(Page(row.get("dataset") or path.name.split(".")[0], row["url"], row["html"]))
    return pages[:limit] if limit else pages


def page_names(html: str) -> PageNames:
    """The page's <title>, og:title, twitter:title and first <h1>; its og:site_name or application-name."""
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return PageNames((), None)
    meta = {
        (m.get("property") or m.get("name") or "").casefold(): (m.get("content") or "").strip()
        for m in tree.iter("meta")
    }
    titles = [
        tree.findtext(".//title"),
        meta.get("og:title"),
        meta.get("twitter:title"),
        next((h.text_content() for h in tree.iter("h1")), None),
    ]
    site = meta.get("og:site_name") or meta.get("application-name") or None
    return PageNames(tuple(" ".join(t.split()) for t in titles if t and t.strip()), site)


def crawl_day(pages: list[Page]) -> date:
    """The newest date in the pages' URLs (/2008/01/14/, 2019-11-19), not after today; else today."""
    found = []
    for page in pages:
        for year, month, day in re.findall(r"(?<!\d)((?:19|20)\d\d)[/-]?([01]\d)[/-]?([0-3]\d)(?!\d)", page.url):
            try:
                found.append(date(int(year), int(month), int(day)))
            except ValueError:
                continue
    return max((d for d in found if d <= date.today()), default=date.today())


def write_dump(pages: list[Page], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for page in pages:
            stream.write(json.dumps({"html": page.html, "url": page.url}, ensure_ascii=False) + "\n")


def config_text(work: Path, dump: Path) -> str:
    """A new user's config: one files source on the dump, the defaults for everything else."""
    return f"""[digest]
out_dir = "{work / "digests"}"
data_dir = "{work / "data"}"

[[sources]]
name = "{SOURCE_NAME}"
kind = "files"
path = "{dump}"
"""


# ---- running the flow ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run of the flow on a fresh store: its files' bytes by format, the flow's result, its wall time."""

    files: dict[str, bytes]
    result: dict
    wall: float


def run_flow(work: Path, dump: Path, day: date, env: dict[str, str], seed: int) -> Run:
    """The real flow in a fresh process, as `digest run` would run it, on a fresh store in `work`.
    `seed`: the process's PYTHONHASHSEED; two runs with other seeds show an order that follows a set's."""
    work.mkdir(parents=True)
    config = work / "digest.toml"
    config.write_text(config_text(work, dump), encoding="utf-8")
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(config), day.isoformat()],
        cwd=work,
        env=env | {"PREFECT_LOGGING_LEVEL": "WARNING", "PYTHONHASHSEED": str(seed)},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if child.returncode:
        sys.exit(f"the flow failed on {day}:\n{child.stderr[-3000:]}")
    files = {ext: (work / "digests" / f"{day.isoformat()}.{ext}").read_bytes() for ext in FORMATS}
    return Run(files, json.loads(child.stdout.strip().splitlines()[-1]), wall)


# The fresh process: the flow once, its result as the last line of stdout. A `-c` program, not this
# file: the extraction workers are spawned, and would import this file again, which puts the working
# tree first on sys.path; the code measured is the PYTHONPATH's (the working tree, or --commit's export).
CHILD = """import json, sys
from datetime import date
from flows.daily_digest import run_daily_digest
print(json.dumps(run_daily_digest(date=date.fromisoformat(sys.argv[2]), config_path=sys.argv[1], email=False)))
"""


def export(revision: str, folder: Path) -> Path:
    """The tree of a commit, written to `folder` (`git archive`): what it measures cannot change under it."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def first_difference(first: bytes, second: bytes) -> str | None:
    """The first line where two renderings differ, both sides, or None when they are identical."""
    if first == second:
        return None
    for number, (a, b) in enumerate(zip(first.splitlines(), second.splitlines()), 1):
        if a != b:
            first_line, second_line = (line.decode(errors="replace").strip()[:120] for line in (a, b))
            return f"line {number}: {first_line!r} / {second_line!r}"
    return f"one is longer ({len(first)} and {len(second)} bytes)"


# ---- judging a digest ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Offender:
    rule: str  # a key of ROWS
    why: str
    text: str
    story: str  # the story's headline
    url: str  # the page it came from
    key: str  # the story's date and id: a headline may be in two stories


@dataclass
class Verdict:
    """Issue 17's counts for one digest (or several, added), and every offender."""

    counts: Counter = field(default_factory=Counter)
    totals: Counter = field(default_factory=Counter)  # denominators: stories, dispatches, sentences
    offenders: list[Offender] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)  # per run: "yes" or where the re-run differed

    def add(self, other: Verdict) -> None:
        self.counts += other.counts
        self.totals += other.totals
        self.offenders += other.offenders
        self.identical += other.identical


ROWS = (  # key, what a reader sees, denominator, target share (None: the target is 0)
    ("markup", "stories whose headline, outlet or a summary sentence holds markup or script", "stories", None),
    ("outlet", "dispatches whose outlet is not a publisher's name", "dispatches", 0.02),
    ("headline", "stories whose headline is not an article title", "stories", 0.03),
    ("sentence", "summary sentences an editor would strike", "sentences", 0.03),
    ("pair", "pairs of summary sentences in one story saying the same thing", None, None),
    ("language", "stories in another language labelled `en` or `fr`", "stories", None),
)


STORY_RULES = {"markup", "headline", "language"}  # counted in stories; the others in offenders


def judge(digest: dict, names: dict[str, PageNames]) -> Verdict:
    """Every rule on one JSON digest; `names`: what each page's markup calls it, by URL."""
    verdict = Verdict()
    for story in digest["stories"]:
        verdict.totals["stories"] += 1
        verdict.totals["dispatches"] += len(story["dispatches"])
        verdict.totals["sentences"] += len(story.get("summary", []))
        verdict.offenders += judge_story(story, names, f"{digest['date']}#{story['id']}")
    stories = {(o.rule, o.key) for o in verdict.offenders if o.rule in STORY_RULES}
    verdict.counts = Counter(rule for rule, _ in stories) + Counter(
        o.rule for o in verdict.offenders if o.rule not in STORY_RULES
    )
    return verdict


def judge_story(story: dict, names: dict[str, PageNames], key: str) -> list[Offender]:
    headline, dispatches = story["headline"], story["dispatches"]
    sentences = [s["text"] for s in story.get("summary", [])]
    first_url = next((d.get("url") or d.get("location") or "" for d in dispatches), "")
    label = story.get("language") or Counter(d.get("language") for d in dispatches).most_common(1)[0][0]

    def offender(rule: str, why: str | None, text: str, url: str = first_url) -> list[Offender]:
        return [Offender(rule, why, text, headline, url, key)] if why else []

    found = []
    for text, url in [
        (headline, first_url),
        *((d.get("source") or "", _url(d)) for d in dispatches),
        *((s["text"], _sentence_url(s, first_url)) for s in story.get("summary", [])),
    ]:
        found += offender("markup", markup(text), text, url)
    # An outlet that is not a name (a title, a date) must not make the headline look like a site's name.
    sites = [
        name
        for d in dispatches
        for name in [
            d.get("source") if not outlet_problem(d.get("source"), []) else "",
            *site_names(d.get("url"), _names(d, names).site_name),
        ]
    ]
    titles = [t for d in dispatches for t in [d.get("title") or "", *_names(d, names).titles]]
    said = _long_words(" ".join([headline, *sentences]))
    # A usable title: one that is a title by these rules and shares two words with the story ("NEXT RACE -
    # 16th March" or "Sports section front" is a page's <title>, not the article's).
    title = next(
        (
            t
            for t in titles
            if t != headline and headline_problem(t, sites, title="") is None and len(_long_words(t) & said) >= 2
        ),
        "",
    )
    found += offender("headline", headline_problem(headline, sites, title), headline)
    for d in dispatches:
        page = _names(d, names)
        # A page whose <title> is its site's name ("The Sports Network") makes that name no title.
        titles = [
            t for t in [d.get("title") or "", *page.titles] if t != page.site_name and not _looks_like_a_site(t.split())
        ]
        found += offender(
            "outlet", outlet_problem(d.get("source"), titles, d.get("url")), d.get("source") or "", _url(d)
        )
    for s in story.get("summary", []):
        found += offender("sentence", sentence_problem(s["text"], label), s["text"], _sentence_url(s, first_url))
    found += [
        Offender("pair", "high word overlap", f"{a!r} / {b!r}", headline, first_url, key)
        for i, a in enumerate(sentences)
        for b in sentences[i + 1 :]
        if same_thing(a, b)
    ]
    found += offender("language", language_problem(" ".join([headline, *sentences]), label), headline)
    return found


def _long_words(text: str) -> set[str]:
    return {w.casefold() for w in WORD.findall(text) if len(w) >= 4 and w.casefold() not in STOP_WORDS}


def _url(dispatch: dict) -> str:
    return dispatch.get("url") or dispatch.get("location") or ""


def _sentence_url(sentence: dict, default: str) -> str:
    return next((a.get("url") or a.get("location") for a in sentence.get("from", [])), None) or default


def _names(dispatch: dict, names: dict[str, PageNames]) -> PageNames:
    return names.get(dispatch.get("url") or "", PageNames((), None))


# ---- the benchmark -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """One crawl digested: its name, day, pages, the judged digest and the two runs' wall times."""

    name: str
    day: date
    pages: int
    verdict: Verdict
    walls: tuple[float, float]
    flow: dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=Path, nargs="+", default=[DATA], help="*.jsonl.gz files or folders of them")
    parser.add_argument("--limit", type=int, help="the first N pages only")
    parser.add_argument("--list", action="store_true", help="print every offender")
    parser.add_argument("--json", type=Path, help="write the figures and offenders here")
    parser.add_argument("--commit", help="measure this commit's code (a clean export), not the working tree")
    parser.add_argument("--keep", type=Path, help="copy each day's digest files (.md, .html, .json) here")
    args = parser.parse_args()
    missing = [str(p) for p in args.pages if not p.exists()]
    if missing:
        sys.exit(f"{', '.join(missing)} absent: the benchmark reads ../shared/bench/extraction (see its README)")
    started = time.perf_counter()
    days = run_all(load_pages(args.pages, args.limit), args.commit, args.keep)
    wall = time.perf_counter() - started
    measured = measured_code(args.commit)
    print_report(days, wall, args.list, measured)
    if args.json:
        args.json.write_text(
            json.dumps(as_json(days, wall, measured), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )


def run_all(pages: list[Page], revision: str | None, keep: Path | None) -> list[Day]:
    """One crawl per dataset, each digested twice on fresh stores, against one Prefect server, by the
    working tree's code or `revision`'s."""
    crawls: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        crawls[page.dataset].append(page)
    with tempfile.TemporaryDirectory(prefix="digest-realworld-") as tmp, ExitStack() as stack:
        code = export(revision, Path(tmp) / "code") if revision else ROOT
        env = prefect_env(Path(tmp), stack) | {"PYTHONPATH": str(code)}
        return [digest_crawl(name, crawl, Path(tmp) / name, env, keep) for name, crawl in crawls.items()]


def prefect_env(tmp: Path, stack: ExitStack) -> dict[str, str]:
    """The environment of the flow's processes: PREFECT_API_URL's server when set, else a temporary one."""
    if os.environ.get("PREFECT_API_URL"):
        return dict(os.environ)
    from tests.prefect_server import prefect_server

    return stack.enter_context(prefect_server(tmp / "prefect"))


def digest_crawl(name: str, pages: list[Page], work: Path, env: dict[str, str], keep: Path | None) -> Day:
    day = crawl_day(pages)
    dump = work / "dump" / f"{name}.jsonl"
    write_dump(pages, dump)
    first = run_flow(work / "run", dump, day, env, seed=1)
    again = run_flow(work / "rerun", dump, day, env, seed=2)
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        for ext, content in first.files.items():
            (keep / f"{name}-{day.isoformat()}.{ext}").write_bytes(content)
    names = {page.url: page_names(page.html) for page in pages}
    verdict = judge(json.loads(first.files["json"]), names)
    differences = [f"{ext}: {d}" for ext in FORMATS if (d := first_difference(first.files[ext], again.files[ext]))]
    verdict.identical.append("; ".join(differences) or "yes")
    print(f"{name}: {len(pages)} pages, day {day}: {first.wall:.1f} s, re-run {again.wall:.1f} s", file=sys.stderr)
    return Day(name, day, len(pages), verdict, (first.wall, again.wall), first.result)


def total(days: list[Day]) -> Verdict:
    whole = Verdict()
    for day in days:
        whole.add(day.verdict)
    return whole


def cell(verdict: Verdict, denominator: str | None, rule: str) -> str:
    count = verdict.counts[rule]
    if not denominator:
        return f"{count:,}"
    of = verdict.totals[denominator]
    return f"{count:,} of {of:,} ({count / of:.1%})" if of else f"{count} of 0"


def met(verdict: Verdict, denominator: str | None, rule: str, share: float | None) -> bool:
    count = verdict.counts[rule]
    return count == 0 if share is None else count <= share * verdict.totals[denominator]


def print_report(days: list[Day], wall: float, listing: bool, measured: str) -> None:
    whole = total(days)
    heads = [f"{d.name} ({d.pages} pages, {d.day})" for d in days]
    print(f"Code: {measured}; {sum(d.pages for d in days)} pages in {len(days)} runs, each run twice.\n")
    print("| what a reader sees | " + " | ".join(heads) + " | all | target | met |")
    print("|---|" + "---|" * (len(days) + 3))
    for rule, what, denominator, share in ROWS:
        cells = [cell(d.verdict, denominator, rule) for d in days] + [cell(whole, denominator, rule)]
        target = "0" if share is None else f"≤ {share:.0%}"
        reached = "yes" if met(whole, denominator, rule, share) else "no"
        print(f"| {what} | " + " | ".join(cells) + f" | {target} | {reached} |")
    identical = ["yes" if d.verdict.identical == ["yes"] else "no" for d in days]
    print(
        "| the JSON digest byte-identical on a re-run of the same day | "
        + " | ".join(identical)
        + f" | {'yes' if set(identical) == {'yes'} else 'no'} | yes | {'yes' if set(identical) == {'yes'} else 'no'} |"
    )
    print(
        f"\nStories {whole.totals['stories']:,}, dispatches {whole.totals['dispatches']:,}, "
        f"summary sentences {whole.totals['sentences']:,}."
    )
    for d in days:
        print(
            f"{d.name}: read {d.flow['read']}, kept {d.flow['kept']}, {d.flow['stories']} stories; "
            f"run {d.walls[0]:.1f} s, re-run {d.walls[1]:.1f} s; re-run identical: {d.verdict.identical[0]}"
        )
    print(f"Wall time: {wall:.1f} s (the Prefect server's start, every run and re-run, the checks).")
    print_kinds(whole)
    if listing:
        print_offenders(whole)


def print_kinds(verdict: Verdict) -> None:
    """Offenders summarised by rule and kind."""
    kinds = Counter((o.rule, re.sub(r" \(.*\)$| '.*'$", "", o.why)) for o in verdict.offenders)
    print("\nBy kind: " + "; ".join(f"{rule}: {why} {n}" for (rule, why), n in sorted(kinds.items())))


def print_offenders(verdict: Verdict) -> None:
    for rule, what, _, _ in ROWS:
        found = [o for o in verdict.offenders if o.rule == rule]
        print(f"\n## {what}: {len(found)}")
        for o in found:
            print(f"- [{o.why}] {o.text[:300]!r}\n  story: {o.story[:120]!r}, page: {o.url}")


def as_json(days: list[Day], wall: float, measured: str) -> dict:
    whole = total(days)
    return {
        "code": measured,
        "wall": round(wall, 1),
        "counts": dict(whole.counts),
        "totals": dict(whole.totals),
        "runs": [
            {
                "name": d.name,
                "day": d.day.isoformat(),
                "pages": d.pages,
                "counts": dict(d.verdict.counts),
                "totals": dict(d.verdict.totals),
                "identical": d.verdict.identical[0],
                "walls": [round(w, 1) for w in d.walls],
                "flow": d.flow,
            }
            for d in days
        ],
        "offenders": [asdict(o) for o in whole.offenders],
    }


def measured_code(revision: str | None) -> str:
    """The commit measured, and whether the working tree held uncommitted changes (others' edits may
    have landed while it ran)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    if revision:
        return f"commit {git('rev-parse', '--short', revision)} (a clean export)"
    head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    return f"working tree at {head}{', with uncommitted changes' if dirty else ', clean'}"


if __name__ == "__main__":
    main()
