"""Clean raw dispatches: extract HTML, normalise text, drop wire-copy boilerplate.

Rules are data (regular expressions in `CleaningRules`), so a desk can add its
outlets' own captions or signatures in the config without touching code.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.extract import extract_html
from tasks.language import bundle, detect_language, words
from tasks.models import Block, Dispatch, Failure, RawDispatch, Removal, parse_datetime

AGENCIES = r"AFP|Reuters|REUTERS|AP|ANSA|dpa|DPA|EFE|Belga|ATS|Xinhua|Kyodo|Bloomberg"

DEFAULT_CAPTIONS = [
    # ( AFP / Mandel NGAN ), (POOL/Christophe SIMON), (AFP/Getty Images)
    r"\(\s*[A-Z][A-Z0-9 .&'\-]{1,30}\s*/\s*[^()/]{2,80}\)\s*$",
    # (Photo AFP), (Crédit photo : X), (Photo credit: X)
    r"\(\s*(?:Photos?|Cr[ée]dits?(?: photo)?|Photo credit|Illustration|Image)\b[^()]*\)\s*$",
    # ... in Washington. REUTERS/Kevin Lamarque
    r"\b[A-Z]{2,}/[A-Z][\w.'\- ]{1,40}$",
    # Photo: John Smith/AP; Crédit : X
    r"^(?:Photo|Photograph|Picture|Image|Credit|Crédit(?: photo)?)\s*[:：]",
]
DEFAULT_INLINE_CREDITS = [
    r"\s*\(\s*(?:Photos?|Cr[ée]dits?(?: photo)?)\s+[^()]{1,40}\)",
]
DEFAULT_DROP_LINES = [
    r"^(?:(?:[ÀA] )?lire (?:aussi|également)|voir aussi|read (?:more|also)|related|see also|more on this story)\b",
    r"^(?:par|by)\s+[A-ZÀ-Þ][\w'’\-]+(?:\s+[A-ZÀ-Þ][\w'’\-]+){0,3}(?:\s*(?:,|et|and|avec|with)\s+[^.!?]{0,80})?$",
    r"^[a-z]{2,5}(?:[-/][a-z]{2,5}){1,6}$",  # agency signature: lb/abc/ybl
    r"^(?:(?:additional )?reporting|writing|editing|compiled|edited) by\b",  # Reuters credits
    r"\b(?:newsletter|lettre d['’]information)\b.*\b(?:inscri|abonn|subscribe|sign up)",
    r"\b(?:inscri\w*|abonne\w*|subscribe|sign up)\b.*\b(?:newsletter|lettre d['’]information)\b",
    r"\bcookies?\b.*\b(?:accept|consent|param[èe]tr|manage|gérer)",
]
DEFAULT_DATELINES = [
    # PARIS (AFP) - ; WASHINGTON, Aug 20 (Reuters) -
    rf"^[A-ZÀ-Þ][\w'’. \-]{{1,40}}(?:,\s*[^()\n]{{1,30}})?\s*\((?:{AGENCIES})\)\s*[-–—:]\s*",
]
AFP_SUBHEADING = re.compile(r"^-\s+(.+?)\s+-$")
SENTENCE_END = re.compile(r"[.!?…:;]\s*[»”\"’')\]]*\s*$")
# Characters that change how text looks to a machine but not to a reader.
CHARACTER_MAP = str.maketrans(
    {
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u00a0": " ",
        "\u202f": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\ufeff": None,
        "\u00ad": None,  # soft hyphen
    }
)


class CleaningRules(BaseModel):
    """Regular expressions, matched case-insensitively except captions and datelines."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    captions: list[str] = Field(default_factory=lambda: list(DEFAULT_CAPTIONS))
    inline_credits: list[str] = Field(default_factory=lambda: list(DEFAULT_INLINE_CREDITS))
    drop_lines: list[str] = Field(default_factory=lambda: list(DEFAULT_DROP_LINES))
    datelines: list[str] = Field(default_factory=lambda: list(DEFAULT_DATELINES))
    heading_max_words: int = 15
    languages: tuple[str, ...] = ("fr", "en")
    default_language: str = "en"


@dataclass(frozen=True)
class _Compiled:
    captions: tuple[re.Pattern, ...]
    inline_credits: tuple[re.Pattern, ...]
    drop_lines: tuple[re.Pattern, ...]
    datelines: tuple[re.Pattern, ...]


def _compile(rules: CleaningRules) -> _Compiled:
    return _Compiled(
        captions=tuple(re.compile(p) for p in rules.captions),
        inline_credits=tuple(re.compile(p, re.IGNORECASE) for p in rules.inline_credits),
        drop_lines=tuple(re.compile(p, re.IGNORECASE) for p in rules.drop_lines),
        datelines=tuple(re.compile(p) for p in rules.datelines),
    )


def normalise(text: str) -> str:
    """NFC, typographic spaces and hyphens made plain, control characters gone; quotes kept."""
    text = unicodedata.normalize("NFC", text).translate(CHARACTER_MAP)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
    return re.sub(r"[ \t]+", " ", text)


def fingerprint(text: str) -> str:
    """Id of a dispatch: stable across whitespace, case and punctuation changes."""
    canonical = " ".join(w.lower() for w in words(text))
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def clean(raw: RawDispatch, rules: CleaningRules) -> tuple[Dispatch | None, list[Removal], Failure | None]:
    """A cleaned dispatch, what was dropped from it, or why it could not be used."""
    compiled = _compile(rules)
    title, published, outlet, url = raw.title, raw.published, raw.outlet, raw.url
    if raw.kind == "html":
        text, meta = extract_html(raw.body)
        title = title or meta.get("title")
        published = published or parse_datetime(meta.get("date"))
        outlet = outlet or meta.get("site")
        url = url or meta.get("url")
    else:
        text = raw.body
    text = normalise(text)
    if not text.strip():
        return None, [], Failure(raw.source, raw.location, "no text after extraction")

    language = detect_language(text, rules.languages, rules.default_language)
    lang = bundle(language)
    blocks: list[Block] = []
    dropped: list[tuple[str, str]] = []
    for line in (ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        block, reason = _classify_line(line, compiled, rules, first=not any(not b.heading for b in blocks))
        if reason:
            dropped.append((line, reason))
        elif block is not None:
            blocks.append(block if block.heading else Block(tuple(lang.sentences(block.text))))
    body = "\n".join(b.text for b in blocks if not b.heading)
    if not body:
        return None, [], Failure(raw.source, raw.location, "no news text left after cleaning")
    dispatch = Dispatch(
        id=fingerprint(body),
        source=outlet or raw.source,
        location=raw.location,
        blocks=tuple(blocks),
        language=language,
        title=normalise(title).strip() if title else None,
        published=published,
        url=url,
    )
    removals = [Removal("clean", dispatch.id, dispatch.source, line, reason) for line, reason in dropped]
    return dispatch, removals, None


def _classify_line(
    line: str, compiled: _Compiled, rules: CleaningRules, first: bool
) -> tuple[Block | None, str | None]:
    """(block, None) to keep, (None, reason) to drop."""
    if any(p.search(line) for p in compiled.captions):
        return None, "photo caption or credit"
    if len(words(line)) <= 40 and any(p.search(line) for p in compiled.drop_lines):
        return None, "boilerplate line"
    subheading = AFP_SUBHEADING.match(line)
    if subheading:
        return Block((subheading.group(1),), heading=True), None
    for pattern in compiled.inline_credits:
        line = pattern.sub("", line)
    if first:
        for pattern in compiled.datelines:
            line = pattern.sub("", line, count=1)
    if not line.strip():
        return None, "dateline"
    if len(words(line)) <= rules.heading_max_words and not SENTENCE_END.search(line):
        return Block((line,), heading=True), None
    return Block((line,)), None


@task(name="clean", cache_policy=NO_CACHE)
def clean_batch(
    raws: list[RawDispatch], rules: CleaningRules
) -> tuple[list[Dispatch], list[Removal], list[Failure]]:
    """One task for the whole batch: Prefect costs ~30 ms of server time per task run."""
    dispatches, removals, failures = [], [], []
    for raw in raws:
        try:
            dispatch, dropped, failure = clean(raw, rules)
        except Exception as exc:  # one bad dispatch must not sink the run
            failure, dispatch, dropped = Failure(raw.source, raw.location, f"cleaning failed: {exc}"), None, []
        removals.extend(dropped)
        if failure:
            failures.append(failure)
        if dispatch:
            dispatches.append(dispatch)
    return dispatches, removals, failures
