"""Sources: local files and folders, RSS/Atom feeds, sitemaps and article URLs.

A `.txt` dispatch may open with metadata lines (`date 2025-08-19`, `title: …`,
`source: …`, `url: …`); a date may share its line with the text that follows.
`.html` pages are kept as HTML for the cleaning stage; `.json` holds one record
or a list, `.jsonl` one record a line: `title`, `text` or `html`, `url`,
`published`, `source`; `.eml` is a dispatch received by email.

Web sources share one `Fetcher` per run; each source is read by its own Prefect
task, so a broken source fails (and retries) alone and becomes a line in the run report.
"""

from __future__ import annotations

import asyncio
import json
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.feeds import Entry, NotAFeed, looks_like_feed, looks_like_sitemap, parse_feed, parse_sitemap
from tasks.fetch import HTML_TYPES, FetchError, Fetcher, FetchOptions
from tasks.models import Failure, RawDispatch, parse_datetime

DATE_LINE = re.compile(r"^\s*date\s*:?\s*(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?)[ \t]*")
FIELD_LINE = re.compile(r"^\s*(title|source|url)\s*:\s*(.+?)\s*$", re.IGNORECASE)
CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
SUFFIXES = {".txt", ".html", ".htm", ".json", ".jsonl", ".eml"}


MAX_DAYS = 3650  # ten years: more is a typo, and dates that far back overflow
SourceKind = Literal["files", "feed", "sitemap", "urls", "auto"]
# Receives each dispatch read, with its position in the source (file or item number...).
Emit = Callable[[RawDispatch, tuple], None]


class SourceSpec(BaseModel):
    """One configured source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: SourceKind = "files"
    path: Path | None = Field(None, description="files: a file or a folder of .txt, .html, .json, .jsonl dispatches")
    url: str | None = Field(None, description="feed, sitemap or auto: its URL")
    urls: list[str] = Field(default_factory=list, description="urls: article pages")
    urls_file: Path | None = Field(None, description="urls: a file of article URLs, one a line")
    local: bool = Field(False, description="allow hosts on loopback or private addresses (tests, intranets)")
    entry_content: bool = Field(False, description="feed: use each entry's own content instead of its page")
    window_days: int = Field(2, ge=1, le=MAX_DAYS,
                             description="feed and sitemap: keep items dated within this many days")
    max_items: int = Field(100, ge=1, description="articles fetched at most from this source")

    @model_validator(mode="after")
    def _needs_a_location(self) -> "SourceSpec":
        needed = {"files": self.path, "feed": self.url, "sitemap": self.url, "auto": self.url,
                  "urls": self.urls or self.urls_file}
        if not needed[self.kind]:
            what = {"files": "path", "urls": "urls or urls_file"}.get(self.kind, "url")
            raise ValueError(f"a {self.kind} source needs {what}")
        return self

    @property
    def location(self) -> str:
        return without_credentials(str(self.path or self.url or self.urls_file or ", ".join(self.urls[:3])))


@dataclass
class SourceResult:
    """What one source gave: dispatches, failures, and HTTP validators to send next time."""

    raws: list[RawDispatch] = field(default_factory=list)  # when read without an `emit`
    failures: list[Failure] = field(default_factory=list)
    validators: dict[str, dict[str, str]] = field(default_factory=dict)
    read: int = 0  # dispatches read, kept in `raws` or handed to `emit`


def load_source(spec: SourceSpec, emit: Emit) -> list[Failure]:
    """Hand on every dispatch of a files source, a file at a time; unreadable files become failures."""
    if not spec.path.exists():
        return [Failure(spec.name, str(spec.path), "path does not exist")]
    files = sorted(p for p in spec.path.rglob("*") if p.suffix.lower() in SUFFIXES) if spec.path.is_dir() else [spec.path]
    if spec.path.is_dir() and not files:
        return [Failure(spec.name, str(spec.path), "folder holds no .txt, .html, .json or .jsonl file")]
    failures = []
    for number, path in enumerate(files):
        try:
            raws = load_file(path, spec.name)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            failures.append(Failure(spec.name, str(path), f"unreadable: {exc}"))
            continue
        for record, raw in enumerate(raws):
            emit(raw, (number, record))
    return failures


def load_file(path: Path, source: str) -> list[RawDispatch]:
    """The dispatches of one file, attributed to the configured `source` unless they name their outlet."""
    suffix = path.suffix.lower()
    if suffix == ".eml":
        return [_from_email(path, source)]
    body = path.read_text(encoding="utf-8")
    if suffix in {".html", ".htm"}:
        return [RawDispatch(source=source, location=str(path), body=body, kind="html")]
    if suffix == ".json":
        data = json.loads(body)
        records = data if isinstance(data, list) else [data]
        return [_from_record(r, path, n, source) for n, r in enumerate(records, start=1)]
    if suffix == ".jsonl":
        lines = [(n, line) for n, line in enumerate(body.splitlines(), start=1) if line.strip()]
        return [_from_record(json.loads(line), path, n, source) for n, line in lines]
    return [_from_text(body, path, source)]


def _from_text(body: str, path: Path, source: str) -> RawDispatch:
    fields: dict[str, str] = {}
    published = None
    lines = body.split("\n")
    while lines:
        if published is None and (match := DATE_LINE.match(lines[0])):
            published = parse_datetime(match.group(1))
            lines[0] = lines[0][match.end() :]
            if not lines[0].strip():
                lines.pop(0)
        elif match := FIELD_LINE.match(lines[0]):
            fields[match.group(1).lower()] = match.group(2)
            lines.pop(0)
        else:
            break
    return RawDispatch(
        source=source,
        location=str(path),
        body="\n".join(lines),
        kind="text",
        outlet=fields.get("source"),
        title=fields.get("title"),
        published=published,
        url=fields.get("url"),
    )


def _from_email(path: Path, source: str) -> RawDispatch:
    """A dispatch received by email (a newsletter, an agency alert): its HTML part, else its text."""
    message = BytesParser(policy=email_policy.default).parsebytes(path.read_bytes())
    part = message.get_body(preferencelist=("html", "plain"))
    if part is None:
        raise ValueError("email has no text or HTML part")
    try:
        published = parsedate_to_datetime(message["date"]) if message["date"] else None
    except (TypeError, ValueError):
        published = None
    sender = message["from"]
    return RawDispatch(
        source=source,
        location=str(path),
        body=part.get_content(),
        kind="html" if part.get_content_subtype() == "html" else "text",
        outlet=(sender.addresses[0].display_name or None) if sender and sender.addresses else None,
        title=message["subject"],
        published=parse_datetime(published),
    )


def _from_record(record: object, path: Path, line: int, source: str) -> RawDispatch:
    if not isinstance(record, dict):
        raise ValueError(f"record {line} is not an object")
    html, text = record.get("html"), record.get("text")
    if not (html or text):
        raise ValueError(f"record {line} has neither 'text' nor 'html'")
    return RawDispatch(
        source=source,
        location=f"{path}#{line}",
        body=str(html or text),
        kind="html" if html else "text",
        outlet=record.get("source"),
        title=record.get("title"),
        published=parse_datetime(record.get("published")),
        url=record.get("url"),
    )


class Window:
    """The dates a feed or sitemap item may carry to be read for a digest day."""

    def __init__(self, day: date, days: int):
        self.end = datetime.combine(day + timedelta(days=1), time(), tzinfo=timezone.utc)
        self.start = self.end - timedelta(days=days)

    def __contains__(self, moment: datetime | None) -> bool:
        return moment is None or self.start <= moment < self.end


async def read_source(spec: SourceSpec, fetcher: Fetcher, validators: dict[str, dict[str, str]],
                      day: date, emit: Emit | None = None) -> SourceResult:
    """Read one source of any kind; nothing raises except a failure of the whole source.

    Each dispatch goes to `emit` with its position in the source as soon as it is read (so a
    run can clean pages while others are fetched, and need not hold them all); without
    `emit`, they are collected in the result's `raws`.
    """
    result, collected = SourceResult(), {}
    emit = _counted(emit or (lambda raw, position: collected.__setitem__(position, raw)), result)
    if spec.kind == "files":
        result.failures = await asyncio.to_thread(load_source, spec, emit)
    else:
        await _read_web_source(spec, fetcher, validators, day, result, emit)
    result.raws = [collected[position] for position in sorted(collected)]  # in the source's order
    return result


async def _read_web_source(spec: SourceSpec, fetcher: Fetcher, validators: dict, day: date, result: SourceResult,
                           emit: Emit) -> None:
    if spec.kind == "urls":
        urls = list(spec.urls)
        if spec.urls_file:
            urls += [u.strip() for u in spec.urls_file.read_text(encoding="utf-8").splitlines() if u.strip()]
        entries = [Entry(url) for url in dict.fromkeys(urls)]
    else:
        entries = await _listing(spec, fetcher, validators, day, result, emit)
    await _read_articles(spec, fetcher, entries[: spec.max_items], result, emit)


async def _listing(spec: SourceSpec, fetcher: Fetcher, validators: dict, day: date, result: SourceResult,
                   emit: Emit) -> list[Entry]:
    """The articles a feed or sitemap lists for the window; [] when it is unchanged (HTTP 304)."""
    known = validators.get(spec.url, {})
    fetched = await fetcher.get(spec.url, local=spec.local, etag=known.get("etag"),
                                last_modified=known.get("last_modified"))
    if fetched.not_modified:
        result.validators[spec.url] = known
        return []
    kind = spec.kind
    if kind == "auto":
        kind = "feed" if looks_like_feed(fetched.content) else "sitemap" if looks_like_sitemap(fetched.content) else "page"
    if kind == "page":
        emit(_page(spec, fetched.url, fetched.text, Entry(spec.url)), (0,))
        return []
    if kind == "feed":
        try:
            entries = parse_feed(fetched.content, fetched.url, fetched.content_type)
        except NotAFeed as exc:
            raise FetchError(str(exc)) from None
    else:
        entries = await _sitemap_entries(spec, fetcher, fetched.content)
    result.validators[spec.url] = {k: v for k, v in
                                   (("etag", fetched.etag), ("last_modified", fetched.last_modified)) if v}
    window = Window(day, spec.window_days)
    return [entry for entry in entries if entry.published in window]


async def _sitemap_entries(spec: SourceSpec, fetcher: Fetcher, content: bytes) -> list[Entry]:
    try:
        children, entries = parse_sitemap(content, fetcher.options.max_bytes)
    except ValueError as exc:
        raise FetchError(str(exc)) from None
    for child in children[:50]:  # an index of indexes is not followed further
        fetched = await fetcher.get(child, local=spec.local)
        try:
            entries += parse_sitemap(fetched.content, fetcher.options.max_bytes)[1]
        except ValueError as exc:
            raise FetchError(f"{child}: {exc}") from None
    # Newest first, so max_items keeps the freshest articles.
    return sorted(entries, key=lambda e: e.published or datetime.min.replace(tzinfo=timezone.utc), reverse=True)


async def _read_articles(spec: SourceSpec, fetcher: Fetcher, entries: list[Entry], result: SourceResult,
                         emit: Emit) -> None:
    async def one(entry: Entry) -> RawDispatch | Failure:
        if spec.entry_content and entry.content:
            return _page(spec, entry.url, entry.content, entry)
        try:
            if not await fetcher.allowed(entry.url, local=spec.local):
                raise FetchError("disallowed by robots.txt")
            fetched = await fetcher.get(entry.url, local=spec.local, accept=HTML_TYPES)
            return _page(spec, fetched.url, fetched.text, entry)
        except FetchError as exc:
            if entry.content:  # the feed's own copy is better than nothing
                return _page(spec, entry.url, entry.content, entry)
            return Failure(spec.name, without_credentials(entry.url), without_credentials(str(exc)))

    async def handed_on(number: int, entry: Entry) -> None:
        outcome = await one(entry)
        if isinstance(outcome, Failure):
            result.failures.append(outcome)
        else:
            emit(outcome, (number,))

    await asyncio.gather(*(handed_on(number, entry) for number, entry in enumerate(entries)))


def _counted(emit: Emit, result: SourceResult) -> Emit:
    def counting(raw: RawDispatch, position: tuple) -> None:
        result.read += 1
        emit(raw, position)
    return counting


def without_credentials(text: str) -> str:
    """`text` with the user and password of any URL in it dropped: a feed's URL may carry them
    (https://user:secret@host/feed), and locations and reasons reach the digest and the logs."""
    return CREDENTIALS.sub(r"\1", text)


def _page(spec: SourceSpec, url: str, html: str, entry: Entry) -> RawDispatch:
    url = without_credentials(url)
    return RawDispatch(source=spec.name, location=url, body=html, kind="html", title=entry.title,
                       published=entry.published, url=url)


@task(name="read-source", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
async def read_source_task(spec: SourceSpec, fetcher: Fetcher, validators: dict, day: date,
                           emit: Emit | None = None) -> SourceResult:
    """One task per source: a source that raises is retried once, then reported."""
    return await read_source(spec, fetcher, validators, day, emit)


async def read_sources(specs: list[SourceSpec], options: FetchOptions, validators: dict,
                       day: date, emit: Emit | None = None) -> list[SourceResult]:
    """Every source concurrently over one HTTP client; a failed source becomes a failure, not an exception.

    `emit` gets each dispatch with its position (source number first) as it is read."""
    def emit_for(number: int) -> Emit | None:
        return None if emit is None else lambda raw, position: emit(raw, (number, *position))

    async with Fetcher(options) as fetcher:
        states = await asyncio.gather(
            *(read_source_task(spec, fetcher, validators, day, emit_for(n), return_state=True)
              for n, spec in enumerate(specs))
        )
    results = []
    for spec, state in zip(specs, states):
        outcome = await state.aresult(raise_on_failure=False)
        if isinstance(outcome, SourceResult):
            results.append(outcome)
        else:
            reason = without_credentials(_reason(outcome, state))
            results.append(SourceResult(failures=[Failure(spec.name, spec.location, reason)]))
    return results


def _reason(outcome: object, state) -> str:
    if isinstance(outcome, FetchError):
        return str(outcome)
    if isinstance(outcome, Exception):
        return f"{outcome.__class__.__name__}: {outcome}"
    return state.message or "failed"
