"""Clean raw dispatches: extract HTML, normalise text, drop wire-copy boilerplate.

Rules are data (regular expressions in `CleaningRules`), so a desk can add its
outlets' own captions or signatures in the config without touching code.

No Prefect here (the stage's task is in tasks/prefect_tasks.py): extraction worker
processes import this module, and Prefect would cost each of them ~1 s and ~150 MB.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.dedup import DedupOptions, DocumentPrint, dedup_within
from tasks.extract import cut_decorations, extract_html, is_code, registrable_domain, without_markup_lines
from tasks.language import LANGUAGE_NAMES, LanguageBundle, bundle, detect_language, words
from tasks.models import LANGUAGE_LEFT_OUT, Block, Dispatch, Failure, RawDispatch, Removal, parse_datetime
from tasks.workers import LOCAL, DaskExecutor, WorkerPool, open_executor

# Each worker is a spawned process of ~40 MB that takes ~1 s to start: past 64, a run spends more on
# starting processes and memory than the cores can give back (10,000 started 132 processes, 5.2 GB, in 17 s).
MAX_WORKERS = 64
SUPPORTED = ", ".join(sorted(LANGUAGE_NAMES))
AGENCIES = r"AFP|Reuters|REUTERS|AP|ANSA|dpa|DPA|EFE|Belga|ATS|Xinhua|Kyodo|Bloomberg"

DEFAULT_CAPTIONS = [
    # ( AFP / Mandel NGAN ), (POOL/Christophe SIMON), (AFP/Getty Images)
    r"\(\s*[A-Z][A-Z0-9 .&'\-]{1,30}\s*/\s*[^()/]{2,80}\)\s*$",
    # (Photo AFP), (Crédit photo : X), (Photo credit: X)
    r"\(\s*(?:Photos?|Cr[ée]dits?(?: photo)?|Photo credit|Illustration|Image)\b[^()]*\)\s*$",
    # ... in Washington. REUTERS/Kevin Lamarque
    r"\b[A-Z]{2,}/[A-Z][\w.'\- ]{1,40}$",
    # Photo: John Smith/AP; Cover image: X; Crédit : X; AP Photo XAN101
    r"^(?:\w+ )?(?:[Pp]hoto(?:graph)?|[Pp]icture|[Ii]mage)s?\s*[:：]|^(?:Credit|Crédit(?: photo)?)\s*[:：]"
    r"|^(?:AP|AFP|EPA|Reuters|REUTERS) (?:Photo|Graphic)\b",
    # (AP Photo/Charles Dharapak), (File Photo/X), ... Getty Images; ... in this June 3, 2007, file photo.
    r"\bin this\b[^!?]{0,30}\b[Ff]ile (?:photo|picture|image)\b|"
    r"\(\s*(?:[A-Z][\w.&'\-]*\s+)?(?:Photo|Photograph|Picture|Image|File)s?\s*/[^()]{2,80}\)\s*$|\bGetty Images\)?\s*$",
]
DEFAULT_INLINE_CREDITS = [
    r"\s*\(\s*(?:Photos?|Cr[ée]dits?(?: photo)?)\s+[^()]{1,40}\)",
]
DEFAULT_DROP_LINES = [
    r"^(?:(?:[ÀA] )?lire (?:aussi|également)|voir aussi|read (?:more|also)|related|see also|more on this story)\b",
    r"^(?:par|by)\s+[A-ZÀ-Þ][\w'’\-]+(?:\s+[A-ZÀ-Þ][\w'’\-]+){0,3}(?:\s*(?:,|et|and|avec|with)\s+[^.!?]{0,80})?$",
    r"^[a-z]{2,5}(?:[-/][a-z]{2,5}){1,6}$",  # agency signature: lb/abc/ybl
    r"^\(?\s*(?:(?:additional )?reporting|writing|editing|compiled|edited) by\b",  # (Reporting by X; Editing by Y)
    r"\b(?:newsletter|lettre d['’]information)\b.*\b(?:inscri|abonn|subscribe|sign up)",
    r"\b(?:inscri\w*|abonne\w*|subscribe|sign up)\b.*\b(?:newsletter|lettre d['’]information)\b",
    r"\bcookies?\b.*\b(?:accept|consent|param[èe]tr|manage|gérer)",
    # rights: © 2008 X; Copyright 2008 AP; All rights reserved; This material may not be published...
    r"©|^copyright\b|\bcopyright (?:©\s*)?\d{4}|\ball rights reserved|\btous droits (?:de reproduction )?réservés"
    r"|\bmay not be (?:re)?(?:published|reproduced|broadcast|redistributed)|\breproduction (?:interdite|réservée)",
    # prompts (not a report that mentions one) to click, bet, subscribe, share or comment, and "More..." links:
    # those that open the line in a rule anchored at its start, which the regex engine tries at one place only
    # (in one alternation with the others, it tried each of them at every character: twice the time)
    r"^(?:(?:[^,.]{0,40},\s*)?(?:please\s+)?(?:click|tap) here\b|(?:[^,.]{0,40},\s*)?cliquez ici\b"
    r"|(?:subscribe|sign up|log ?in|register|abonnez-vous|inscrivez-vous|connectez-vous)\b"
    r"|(?:share|print|e-?mail) (?:this|cet)\b|(?:follow us|suivez-nous)\b"
    r"|(?:(?:leave|post|add|write|view|read|show) (?:a |your |all )?comments?|comments?\s*(?:\(\d+\)|:|$))"
    r"|(?:réagissez|laisser un commentaire|commentaires?\s*(?:\(\d+\)|:|$))"
    r"|(?:more|plus|suite|lire la suite|continue reading)\s*(?:\.\.\.|…|»|>+)?$|advertisement$|publicité$)",
    # the others, found anywhere; a page's tool row (Comments Print Email); a contact address, found from its "@"
    r"\b(?:click|tap) here\W*$|\b(?:place (?:a |your )?bets?|free bets?|bet now|pariez)\b"
    r"|\bhave your say\b|\bjoin the (?:conversation|discussion|debate)\b"
    r"|(?-i:\b(?:Comments?|Print|E-?mail|Share|Save|Tweet)(?:\s+(?:Comments?|Print|E-?mail|Share|Save|Tweet)){2})"
    r"|(?<=[\w.+\-])@[\w\-]+\.\w{2,}",
]
# A dateline is followed by a sentence's start: "Smith (Labour) - the MP said" is not one.
SENTENCE_START = r"(?=[A-ZÀ-Þ0-9\"“«'‘])"
DEFAULT_DATELINES = [
    # PARIS (AFP) - ; WASHINGTON, Aug 20 (Reuters) -- ; New Delhi, Jan 13 (IANS): ; Fairfield (AP) _ ; TORONTO (AP) Raptors
    rf"^[A-ZÀ-Þ][\w'’. \-]{{1,40}}(?:,\s*[^()\n]{{1,30}})?\s*\((?:{AGENCIES}|[A-Z]{{2,6}})\)"
    rf"(?:\s*(?:--|[-–—:_])\s*|\s+{SENTENCE_START})",
    # NEW YORK, NY (Sports Network) - ; DENVER (Billboard) - ; (Sports Network) - ; Hong Kong (CNN Business)A
    rf"^(?:[A-ZÀ-Þ][\w'’.\-]*(?:\s+[A-ZÀ-Þ][\w'’.\-]*){{0,3}}(?:,\s*[^()\n]{{1,30}})?\s*)?\([^()\n]{{1,40}}\)"
    rf"(?:\s*(?:--|[-–—_])\s+|){SENTENCE_START}",  # no space at all: the source glued to the story
    # LONDON — ; OTTAWA - ; NEW YORK, Nov. 27 -- ; NEW DELHI: (a place in capitals, no source)
    rf"^[A-ZÀ-Þ][A-ZÀ-Þ'’. \-]{{1,30}}(?:,\s*[^()\n—–:]{{1,30}})?\s*(?:--|[-–—:])\s+{SENTENCE_START}",
    # Meadow Lake, Saskatchewan – ; Texas, États-Unis -- (place, region: both capitalised)
    rf"^[A-ZÀ-Þ][\w'’. \-]{{1,30}},\s*[A-ZÀ-Þ][\w'’. \-]{{1,30}}\s+(?:--|[-–—])\s+{SENTENCE_START}",
]
AFP_SUBHEADING = re.compile(r"^-\s+(.+?)\s+-$")
LIST_MARKER = re.compile(r"^[-–—•*·]\s+")  # an item of a list, as extraction gives it ("- item")
# Hard-wrapped text: lines cut at a width of this many characters (plain text's 70-80, narrower columns).
WRAP_WIDTHS = range(50, 101)
WRAP_FULL = 0.75  # a line at least this share of the width is full: the next word did not fit
LOWER_START = re.compile(r"[a-zà-ÿ]+\b(?![-'’]?[A-Z])")  # a lower-case word ("iPhone" starts a sentence)
# A line that ends as a sentence does: end punctuation, ":" and ";" too, then maybe a space and closing quotes or
# brackets (French spaces its », `fin . »`); a heading does not (tasks.extract's PROSE_END takes a closing quote alone).
LINE_ENDS_SENTENCE = re.compile(r"[.!?…:;]\s*[»”\"’')\]]*\s*$")
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
        "\u2028": "\n",  # line separator: a line break, as str.splitlines() reads it
        "\u2029": "\n\n",  # paragraph separator
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
    workers: int = Field(
        0, ge=0, le=MAX_WORKERS, description="processes that extract and clean pages; 0: one per CPU, 1: none"
    )
    executor: str = Field(
        LOCAL,
        description='where pages are cleaned: "local" (`workers` processes here) or the '
        'address of a Dask scheduler, "tcp://host:8786" (its workers clean them)',
    )

    @field_validator("captions", "inline_credits", "drop_lines", "datelines")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f'"{pattern}" is not a regular expression: {exc}') from None
        return patterns

    @field_validator("executor")
    @classmethod
    def _executor(cls, executor: str) -> str:
        if executor != LOCAL and not re.fullmatch(r"(?:tcp|tls)://[^/\s]+:\d+", executor):
            raise ValueError(f'"{executor}" is neither "local" nor a Dask scheduler\'s address (tcp://host:8786)')
        return executor

    @field_validator("languages")
    @classmethod
    def _detectable(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        if not languages:
            raise ValueError(f"no language (list one or more of {SUPPORTED})")
        for code in languages:
            _supported(code)
        return languages

    @field_validator("default_language")
    @classmethod
    def _known(cls, code: str) -> str:
        return _supported(code)


def _supported(code: str) -> str:
    """A language the project can detect, split into sentences and stem."""
    if code not in LANGUAGE_NAMES:
        raise ValueError(f'"{code}" is not a supported language (supported: {SUPPORTED})')
    return code


@dataclass(frozen=True)
class _Compiled:
    captions: tuple[re.Pattern[str], ...]
    inline_credits: tuple[re.Pattern[str], ...]
    drop_lines: tuple[re.Pattern[str], ...]
    datelines: tuple[re.Pattern[str], ...]


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
    if not text.replace("\n", "").replace("\t", "").isprintable():  # has a character of category C (or Z)
        text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
    return re.sub(r"[ \t]+", " ", text)


def fingerprint(text: str) -> str:
    """Id of a dispatch: stable across whitespace, case and punctuation changes."""
    canonical = " ".join(w.lower() for w in words(text))
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def clean(raw: RawDispatch, rules: CleaningRules) -> tuple[Dispatch | None, list[Removal], Failure | None]:
    """A cleaned dispatch, what was dropped from it, or why it could not be used."""
    compiled = _compile(rules)
    text, meta = (
        extract_html(raw.body, need_date=raw.published is None, url=raw.url) if raw.kind == "html" else (raw.body, {})
    )
    url = raw.url or meta.get("url")
    # who published it: the dispatch or its source says, else the page does, else the domain says
    outlet = raw.outlet or meta.get("site") or registrable_domain(url)
    title = (cut_decorations(raw.title, [outlet], url) if raw.title else None) or meta.get("title")
    published = raw.published or parse_datetime(meta.get("date"))
    text, markup = without_markup_lines(normalise(text))  # what damaged HTML left as text: never shown
    if not text.strip():
        return None, [], Failure(raw.source, raw.location, "no text after extraction")

    language = detect_language(text, rules.languages, rules.default_language)
    reason: str | None  # the dispatch's reason to be left out; below, each line's to be dropped
    if language not in rules.languages:  # never relabelled as one of them: left out, and said so
        reason = f"{LANGUAGE_LEFT_OUT}: {language}"
        return None, [Removal("language", fingerprint(text), outlet or raw.source, title or raw.location, reason)], None
    lang = bundle(language)
    blocks: list[Block] = []
    dropped: list[tuple[str, str]] = [(cut, "code or markup") for cut in markup]
    for line in unwrap([ln.strip() for ln in text.splitlines()], compiled):
        if not line:
            continue
        block, reason = _classify_line(line, compiled, rules)
        if reason:
            dropped.append((line, reason))
        elif block is not None and block.heading:
            blocks.append(block)
        elif block is not None:
            sentences, boilerplate = _sentences(block.text, lang, compiled)
            dropped.extend(boilerplate)
            blocks.extend([Block(sentences)] if sentences else [])
    body = "\n".join(b.text for b in blocks if not b.heading)
    if not words(body):  # punctuation only ("...", "???"): no news, and its fingerprint would be sha1("")
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


def unwrap(lines: list[str], compiled: _Compiled) -> list[str]:
    """Hard-wrapped text joined into paragraphs (segmentation reads their line breaks as spaces), other
    lines as they are. A line goes on the one
    before it when that one stops mid-sentence and this one goes on in lower case, or when the text
    is hard-wrapped and the one before is full (near the width). Captions and boilerplate lines
    stay lines of their own, to be dropped whole; an empty line ends a paragraph."""
    width = _wrap_width(lines)
    joined: list[str] = []
    previous = ""
    for line in lines:
        if (
            line
            and previous
            and _cut_mid_sentence(previous, line, width)
            and not _drop_reason(previous, compiled)
            and not _drop_reason(line, compiled)
        ):
            joined[-1] = f"{joined[-1]}\n{line}"  # kept as it came: a sentence stays a piece of the text
        else:
            joined.append(line)
        previous = line
    return joined


def _cut_mid_sentence(line: str, following: str, width: int | None) -> bool:
    if LINE_ENDS_SENTENCE.search(line):
        return False
    return bool(LOWER_START.match(following)) or (width is not None and len(line) >= WRAP_FULL * width)


def _wrap_width(lines: list[str]) -> int | None:
    """The width the text was wrapped at (its 90th-percentile line length), or None when it is not
    hard-wrapped: four lines or more, a width in WRAP_WIDTHS, most full lines stopping mid-sentence
    and a fifth of those going on in lower case (a list of titles does not)."""
    lengths = sorted(len(line) for line in lines if line)
    if len(lengths) < 4 or (width := lengths[int(0.9 * (len(lengths) - 1))]) not in WRAP_WIDTHS:
        return None
    pairs = [(a, b) for a, b in zip(lines, lines[1:]) if len(a) >= WRAP_FULL * width and b]
    open_ = [b for a, b in pairs if not LINE_ENDS_SENTENCE.search(a)]
    wrapped = len(open_) >= len(pairs) / 2 and sum(bool(LOWER_START.match(b)) for b in open_) >= len(open_) / 5
    return width if open_ and wrapped else None


def _drop_reason(line: str, compiled: _Compiled) -> str | None:
    """Why a line (or a sentence) is dropped whole, if it is."""
    if is_code(line):  # markup, script or style that damaged HTML left as text
        return "code or markup"
    if any(p.search(line) for p in compiled.captions):
        return "photo caption or credit"
    if any(p.search(line) for p in compiled.drop_lines) and len(words(line)) <= 40:
        return "boilerplate line"
    return None


def _sentences(
    paragraph: str, lang: LanguageBundle, compiled: _Compiled
) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """A paragraph's sentences, less those dropped whole ("Click here...", a rights line or a caption
    run into the text), each without a leading dash (a dateline cut mid-line leaves one); and the
    dropped ones with their reason."""
    kept, dropped = [], []
    for sentence in lang.sentences(paragraph):
        if reason := _drop_reason(sentence, compiled):
            dropped.append((sentence, reason))
        elif sentence := LIST_MARKER.sub("", sentence):
            kept.append(sentence)
    return tuple(kept), dropped


def _classify_line(line: str, compiled: _Compiled, rules: CleaningRules) -> tuple[Block | None, str | None]:
    """(block, None) to keep, (None, reason) to drop."""
    reason = _drop_reason(line, compiled)
    if reason:
        return None, reason
    subheading = AFP_SUBHEADING.match(line)
    if subheading:
        return Block((subheading.group(1),), heading=True), None
    line = LIST_MARKER.sub("", line)
    for pattern in compiled.inline_credits:
        line = pattern.sub("", line)
    # Any paragraph may open on a dateline: pages put a standfirst or a time before the story's.
    for pattern in compiled.datelines:
        line = pattern.sub("", line, count=1)
    if not line.strip():
        return None, "dateline"
    if len(words(line)) <= rules.heading_max_words and not LINE_ENDS_SENTENCE.search(line):
        return Block((line,), heading=True), None
    return Block((line,)), None


def without_future_dates(dispatches: list[Dispatch], day: date) -> list[Dispatch]:
    """Dates later than the digest's day plus one (time zones ahead) taken off: a page's markup misread
    (htmldate read 01/09/2008 as 1 September in a January crawl) or a wrong clock, not news from the
    future. Such a dispatch counts as undated; extraction alone cannot tell, as it has no digest day."""
    latest = datetime.combine(day + timedelta(days=2), time(), tzinfo=UTC)
    return [replace(d, published=None) if d.published and d.published >= latest else d for d in dispatches]


def clean_guarded(raw: RawDispatch, rules: CleaningRules) -> tuple[Dispatch | None, list[Removal], Failure | None]:
    """`clean`, with any error of one dispatch turned into its failure: it must not sink the run."""
    try:
        return clean(raw, rules)
    except Exception as exc:
        return None, [], Failure(raw.source, raw.location, f"cleaning failed: {exc.__class__.__name__}: {exc}")


Prepared = tuple[Dispatch | None, list[Removal], Failure | None, DocumentPrint | None]


def prepare_batch(raws: list[RawDispatch], rules: CleaningRules, repeats: DedupOptions | None) -> list[Prepared]:
    """`prepare` of each page: one task of an executor (a Dask task costs ~1 ms: pages go in batches)."""
    return [prepare(raw, rules, repeats) for raw in raws]


def prepare(raw: RawDispatch, rules: CleaningRules, repeats: DedupOptions | None) -> Prepared:
    """`clean_guarded`, then (with `repeats`) the dispatch without what it says twice; and its
    document print, which de-duplication across dispatches and days needs (work of one dispatch
    at a time: done where the page is cleaned, on every core)."""
    dispatch, removals, failure = clean_guarded(raw, rules)
    if dispatch is not None and repeats is not None:
        dispatch, repeated = dedup_within(dispatch, repeats)
        removals = removals + repeated
    return dispatch, removals, failure, DocumentPrint.of(dispatch) if dispatch is not None else None


@dataclass
class Cleaned:
    """A batch, cleaned: dispatches in the order they were added, what was dropped from them, the
    pages that could not be used, and each dispatch's document print by id."""

    dispatches: list[Dispatch] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    prints: dict[str, DocumentPrint] = field(default_factory=dict)


class Cleaner:
    """Cleans dispatches as the sources hand them over, so a run never holds every page at once.

    Pages go to the executor of `rules.executor` (tasks/workers.py; extraction is CPU-bound: this is
    what uses every core): "local", `rules.workers` processes, a page at a time; or the workers of a
    Dask cluster, `batch` pages a task (a Dask task costs ~1 ms and a round trip). The scheduler is
    reached when the cleaner is made, so one that cannot be is an error before any page is read.
    At most two tasks a worker are in flight: `add` awaits a free place, so the source that
    handed the page waits while fetches in flight go on (cleaning pages in this process meanwhile,
    as a third process on the cores, made a run no faster and its process ~50 MB larger at 10,000
    pages). Locally, the first `INLINE_FIRST` pages are cleaned in one thread of this process, off
    the event loop: a small run does not pay for starting processes.
    Results come back ordered by the key each page was added with, whoever cleaned it; a Dask
    worker lost mid-run loses nothing (the scheduler runs its tasks again on the others).
    With `repeats`, each dispatch also loses the sentences it says twice (`dedup_within`): work
    of one dispatch at a time, done here where it runs on every core.
    """

    INLINE_FIRST = 16
    BATCH = 16  # pages a Dask task cleans

    def __init__(self, rules: CleaningRules, repeats: DedupOptions | None = None, batch: int = BATCH):
        self._rules, self._repeats = rules, repeats
        self._pool = open_executor(rules.executor, rules.workers)
        self._batch = batch if self._pool.remote else 1
        self._inline = ThreadPoolExecutor(1, thread_name_prefix="clean")
        self._slots: asyncio.Semaphore | None = None  # made in the loop that adds, freed by `results`
        self._lock = threading.Lock()
        self._added = 0
        self._waiting: list[tuple[tuple[int, ...], RawDispatch]] = []  # the next batch, while it fills
        self._pending: dict[Future[list[Prepared]], list[tuple[tuple[int, ...], str, str]]] = {}
        self._done: dict[tuple[int, ...], Prepared] = {}

    def __enter__(self) -> Cleaner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._inline.shutdown(wait=False, cancel_futures=True)
        self._pool.close()

    @property
    def executor(self) -> WorkerPool | DaskExecutor:
        """The executor cleaning pages (a `WorkerPool` or a `DaskExecutor`)."""
        return self._pool

    async def add(self, raw: RawDispatch, key: tuple[int, ...]) -> None:
        """Hand `raw` to a worker, waiting for a free place without blocking the event loop; a page
        added again under the same key (a retried source) is kept once."""
        with self._lock:
            self._added += 1
            pooled = self._pool.remote or (self._pool.size > 1 and self._added > self.INLINE_FIRST)
        loop = asyncio.get_running_loop()
        if not pooled:
            outcome = await loop.run_in_executor(self._inline, prepare, raw, self._rules, self._repeats)
            with self._lock:
                self._done[key] = outcome
            return
        with self._lock:
            self._waiting.append((key, raw))
            if len(self._waiting) < self._batch:
                return
            batch, self._waiting = self._waiting, []
        slots = self._slots = self._slots or asyncio.Semaphore(2 * self._pool.size)
        await slots.acquire()
        try:
            future = self._submit(batch)
        except BaseException:
            slots.release()
            raise
        future.add_done_callback(lambda _: _call_soon(loop, slots.release))

    def _submit(self, batch: list[tuple[tuple[int, ...], RawDispatch]]) -> Future[list[Prepared]]:
        future = self._pool.submit(prepare_batch, [raw for _, raw in batch], self._rules, self._repeats)
        with self._lock:  # where, not the raws themselves: their pages would stay in memory
            self._pending[future] = [(key, raw.source, raw.location) for key, raw in batch]
        return future

    def results(self) -> Cleaned:
        """Every page's outcome, in key order, once the workers are done."""
        with self._lock:
            batch, self._waiting = self._waiting, []
        if batch:  # the last, partial batch
            self._submit(batch)
        for future, places in list(self._pending.items()):
            for (key, _, _), outcome in zip(places, self._outcomes(future, places)):
                self._done[key] = outcome
        self._pending.clear()
        self._slots = None  # every place is free; the next pages may come from another event loop
        cleaned = Cleaned()
        for key in sorted(self._done):
            dispatch, dropped, failure, printed = self._done[key]
            cleaned.removals.extend(dropped)
            cleaned.failures.extend([failure] if failure else [])
            if dispatch is not None:
                cleaned.dispatches.append(dispatch)
                cleaned.prints[dispatch.id] = cast(DocumentPrint, printed)  # `prepare` prints every dispatch it gives
        return cleaned

    @staticmethod
    def _outcomes(future: Future[list[Prepared]], places: list[tuple[tuple[int, ...], str, str]]) -> list[Prepared]:
        try:
            return future.result()
        except BrokenProcessPool:  # a page crashed its worker: the pages then in flight fail, the run goes on
            return [
                (None, [], Failure(source, location, "cleaning failed: the worker process cleaning it died"), None)
                for _, source, location in places
            ]


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    """Run `callback` in `loop` from a worker's result thread; nothing to free once the loop is closed."""
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:
        pass
