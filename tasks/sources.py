"""Sources: local files and folders, RSS/Atom feeds, sitemaps and article URLs.

A `.txt` dispatch may open with metadata lines (`date 2025-08-19`, `title: …`,
`source: …`, `url: …`); a date may share its line with the text that follows.
`.html` pages are kept as HTML for the cleaning stage; `.json` holds one record
or a list, `.jsonl` one record a line: `title`, `text` or `html`, `url`,
`published`, `source`; `.eml` is a dispatch received by email. Only regular files are read, none
over `fetch.max_bytes` (a `.jsonl` is streamed: the cap is per record), and a symlink leading out
of the source's folder only with `follow_links`.

Web sources share one `Fetcher` per run; the flow reads each source in a Prefect task of its own
(tasks/prefect_tasks.py), so a broken source fails (and retries) alone and becomes a line in the run report.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import os
import re
import stat
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tasks.errors import FetchError
from tasks.feeds import ChildSitemap, Entry, NotAFeed, looks_like_feed, looks_like_sitemap, parse_feed, sitemap_items
from tasks.fetch import HTML_TYPES, Fetcher, FetchOptions
from tasks.models import Failure, RawDispatch, parse_datetime

DATE_LINE = re.compile(
    r"^\s*date\s*:?\s*(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?)[ \t]*"
)
FIELD_LINE = re.compile(r"^\s*(title|source|url)\s*:\s*(.+?)\s*$", re.IGNORECASE)
CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
SUFFIXES = {".txt", ".html", ".htm", ".json", ".jsonl", ".eml"}
DEFAULT_MAX_BYTES = FetchOptions.model_fields["max_bytes"].default
FILE_TYPES = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
    stat.S_IFSOCK: "a socket",
}
MAX_CHILD_SITEMAPS = 50  # read per sitemap index, newest first
OLDEST = datetime.min.replace(tzinfo=UTC)


MAX_DAYS = 3650  # ten years: more is a typo, and dates that far back overflow
SourceKind = Literal["files", "feed", "sitemap", "urls", "auto"]
# Receives each dispatch read, with its position in the source (file or item number...). It is
# awaited, so a consumer that is full (cleaning workers busy) holds back reading, not the event loop.
Emit = Callable[[RawDispatch, tuple[int, ...]], Awaitable[None]]
# The same for a files source, read in a thread of its own.
Hand = Callable[[RawDispatch, tuple[int, ...]], None]


class SourceSpec(BaseModel):
    """One configured source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: SourceKind = "files"
    outlet: str | None = Field(
        None, min_length=1, description="who publishes what this source gives, when its records do not say"
    )
    path: Path | None = Field(None, description="files: a file or a folder of .txt, .html, .json, .jsonl dispatches")
    url: str | None = Field(None, description="feed, sitemap or auto: its URL")
    urls: list[str] = Field(default_factory=list, description="urls: article pages")
    urls_file: Path | None = Field(None, description="urls: a file of article URLs, one a line")
    local: bool = Field(False, description="allow hosts on loopback or private addresses (tests, intranets)")
    follow_links: bool = Field(False, description="files: read symlinks that lead out of the folder")
    entry_content: bool = Field(False, description="feed: use each entry's own content instead of its page")
    window_days: int = Field(
        2, ge=1, le=MAX_DAYS, description="feed and sitemap: keep items dated within this many days"
    )
    max_items: int = Field(100, ge=1, description="articles fetched at most from this source")

    @model_validator(mode="after")
    def _needs_a_location(self) -> SourceSpec:
        needed = {
            "files": self.path,
            "feed": self.url,
            "sitemap": self.url,
            "auto": self.url,
            "urls": self.urls or self.urls_file,
        }
        if not needed[self.kind]:
            what = {"files": "path", "urls": "urls or urls_file"}.get(self.kind, "url")
            raise ValueError(f"a {self.kind} source needs {what}")
        return self

    @property
    def location(self) -> str:
        return without_credentials(str(self.path or self.url or self.urls_file or ", ".join(self.urls[:3])))


@dataclass
class SourceResult:
    """What one source gave: dispatches, failures, notes on what it passed over by design, and HTTP
    validators to send next time."""

    raws: list[RawDispatch] = field(default_factory=list)  # when read without an `emit`
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. sitemaps older than the window: not a failure
    validators: dict[str, dict[str, str]] = field(default_factory=dict)
    read: int = 0  # dispatches read, kept in `raws` or handed to `emit`


class Refused(FetchError):
    """A local file that is not read: not a regular file, or over the size cap; the message says which."""


def load_source(spec: SourceSpec, emit: Hand, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Failure]:
    """Hand on every dispatch of a files source as it is read; unreadable files and records become failures."""
    # A files source has a path (SourceSpec's validator): the casts below.
    if not cast(Path, spec.path).exists():
        return [Failure(spec.name, str(spec.path), "path does not exist")]
    folder = cast(Path, spec.path).is_dir()
    # rglob does not enter symlinked folders; is_dir() stats, so a FIFO named x.txt is listed, never opened here.
    files = (
        sorted(p for p in cast(Path, spec.path).rglob("*") if p.suffix.lower() in SUFFIXES and not p.is_dir())
        if folder
        else [cast(Path, spec.path)]
    )
    if folder and not files:
        return [Failure(spec.name, str(spec.path), "folder holds no .txt, .html, .json or .jsonl file")]
    inside = os.path.realpath(cast(Path, spec.path))
    failures = []
    for number, path in enumerate(files):
        if folder and not spec.follow_links and not Path(os.path.realpath(path)).is_relative_to(inside):
            failures.append(
                Failure(
                    spec.name,
                    str(path),
                    "symlink leading out of the source's folder: not read (set follow_links = true to read it)",
                )
            )
            continue
        try:
            for record, item in enumerate(read_file(path, spec.name, max_bytes)):
                if isinstance(item, Failure):
                    failures.append(item)
                else:
                    emit(replace(item, outlet=item.outlet or spec.outlet), (number, record))
        except Refused as exc:
            failures.append(Failure(spec.name, str(path), str(exc)))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            failures.append(Failure(spec.name, str(path), f"unreadable: {exc}"))
    return failures


def load_file(path: Path, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> list[RawDispatch]:
    """The dispatches of one file (see `read_file`); a record that cannot be read raises ValueError."""
    raws = []
    for item in read_file(path, source, max_bytes):
        if isinstance(item, Failure):
            raise ValueError(f"{item.location}: {item.reason}")
        raws.append(item)
    return raws


def read_file(path: Path, source: str, max_bytes: int) -> Iterator[RawDispatch | Failure]:
    """The dispatches of one file, attributed to the configured `source` unless they name their outlet.

    Raises Refused for a file that is not regular or is over `max_bytes`, which is then not read. A
    `.jsonl` is read a line at a time: a record over `max_bytes` or unreadable is a failure of its own."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with _open_regular(path) as stream:
            yield from _jsonl_records(stream, path, source, max_bytes)
        return
    data = read_capped(path, max_bytes)
    if suffix == ".eml":
        yield _from_email(data, path, source)
        return
    body = data.decode("utf-8")
    if suffix in {".html", ".htm"}:
        yield RawDispatch(source=source, location=str(path), body=body, kind="html")
    elif suffix == ".json":
        parsed = json.loads(body)
        records = parsed if isinstance(parsed, list) else [parsed]
        yield from (_from_record(r, path, n, source) for n, r in enumerate(records, start=1))
    else:
        yield _from_text(body, path, source)


def read_capped(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; Refused, without reading it, for any other."""
    with _open_regular(path) as stream:
        size = os.fstat(stream.fileno()).st_size
        if size > max_bytes:
            raise Refused(f"file of {size} bytes is over the {max_bytes} byte cap (fetch.max_bytes)")
        data = stream.read(max_bytes + 1)  # it may have grown since, or not say its size (/proc)
    if len(data) > max_bytes:
        raise Refused(f"file over the {max_bytes} byte cap (fetch.max_bytes)")
    return data


def _open_regular(path: Path) -> BinaryIO:
    # O_NONBLOCK: opening a FIFO would otherwise wait for a writer, for good; it is then refused.
    stream = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb")
    kind = stat.S_IFMT(os.fstat(stream.fileno()).st_mode)
    if kind != stat.S_IFREG:
        stream.close()
        raise Refused(f"not a regular file ({FILE_TYPES.get(kind, 'a special file')}): only regular files are read")
    return stream


def _jsonl_records(stream: BinaryIO, path: Path, source: str, max_bytes: int) -> Iterator[RawDispatch | Failure]:
    for number, line in enumerate(_lines(stream, max_bytes), start=1):
        if line is None:
            yield Failure(source, f"{path}#{number}", f"record over the {max_bytes} byte cap (fetch.max_bytes)")
        elif line.strip():
            try:
                yield _from_record(json.loads(line.decode("utf-8")), path, number, source)
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
                yield Failure(source, f"{path}#{number}", f"unreadable: {exc}")


def _lines(stream: BinaryIO, max_bytes: int) -> Iterator[bytes | None]:
    """Each line of `stream`; None for a line over `max_bytes`, which is skipped a piece at a time, never held."""
    while line := stream.readline(max_bytes + 1):
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(max_bytes + 1)
        yield None


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


def _from_email(data: bytes, path: Path, source: str) -> RawDispatch:
    """A dispatch received by email (a newsletter, an agency alert): its HTML part, else its text."""
    message = BytesParser(policy=email_policy.default).parsebytes(data)
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
        self.end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        self.start = self.end - timedelta(days=days)

    def __contains__(self, moment: datetime | None) -> bool:
        return moment is None or self.start <= moment < self.end


async def read_source(
    spec: SourceSpec, fetcher: Fetcher, validators: dict[str, dict[str, str]], day: date, emit: Emit | None = None
) -> SourceResult:
    """Read one source of any kind; nothing raises except a failure of the whole source.

    Each dispatch goes to `emit` with its position in the source as soon as it is read (so a
    run can clean pages while others are fetched, and need not hold them all); without
    `emit`, they are collected in the result's `raws`.
    """
    collected: dict[tuple[int, ...], RawDispatch]
    result, collected = SourceResult(), {}

    async def keep(raw: RawDispatch, position: tuple[int, ...]) -> None:
        collected[position] = raw

    emit = _counted(emit or keep, result)
    if spec.kind == "files":
        loop = asyncio.get_running_loop()

        def hand(raw: RawDispatch, position: tuple[int, ...]) -> None:  # from the reading thread: wait for the consumer
            asyncio.run_coroutine_threadsafe(emit(raw, position), loop).result()

        result.failures = await asyncio.to_thread(load_source, spec, hand, fetcher.options.max_bytes)
    else:
        await _read_web_source(spec, fetcher, validators, day, result, emit)
    result.raws = [collected[position] for position in sorted(collected)]  # in the source's order
    return result


async def _read_web_source(
    spec: SourceSpec,
    fetcher: Fetcher,
    validators: dict[str, dict[str, str]],
    day: date,
    result: SourceResult,
    emit: Emit,
) -> None:
    if spec.kind == "urls":
        urls = list(spec.urls)
        if spec.urls_file:
            listed = read_capped(spec.urls_file, fetcher.options.max_bytes).decode("utf-8")
            urls += [u.strip() for u in listed.splitlines() if u.strip()]
        entries = [Entry(url) for url in dict.fromkeys(urls)]
    else:
        entries = await _listing(spec, fetcher, validators, day, result, emit)
    await _read_articles(spec, fetcher, entries[: spec.max_items], result, emit)


async def _listing(
    spec: SourceSpec,
    fetcher: Fetcher,
    validators: dict[str, dict[str, str]],
    day: date,
    result: SourceResult,
    emit: Emit,
) -> list[Entry]:
    """The articles a feed or sitemap lists for the window; [] when it is unchanged (HTTP 304)."""
    # A feed, sitemap or auto source has a URL (SourceSpec's validator): the casts below.
    known = validators.get(cast(str, spec.url), {})
    fetched = await fetcher.get(
        cast(str, spec.url), local=spec.local, etag=known.get("etag"), last_modified=known.get("last_modified")
    )
    if fetched.not_modified:
        result.validators[cast(str, spec.url)] = known
        return []
    kind: SourceKind | Literal["page"] = spec.kind
    if kind == "auto":
        kind = (
            "feed" if looks_like_feed(fetched.content) else "sitemap" if looks_like_sitemap(fetched.content) else "page"
        )
    if kind == "page":
        await emit(_page(spec, fetched.url, fetched.text, Entry(cast(str, spec.url))), (0,))
        return []
    window = Window(day, spec.window_days)
    if kind == "feed":
        try:
            listed = parse_feed(fetched.content, fetched.url, fetched.content_type)
        except NotAFeed as exc:
            raise FetchError(str(exc)) from None
        entries = [entry for entry in listed if entry.published in window]
    else:  # the sitemap's entries are chosen within the window as they are parsed
        entries = await _sitemap_entries(spec, fetcher, fetched.content, window, result)
    result.validators[cast(str, spec.url)] = {
        k: v for k, v in (("etag", fetched.etag), ("last_modified", fetched.last_modified)) if v
    }
    return entries


async def _sitemap_entries(
    spec: SourceSpec, fetcher: Fetcher, content: bytes, window: Window, result: SourceResult
) -> list[Entry]:
    """The newest `max_items` entries of a sitemap in the window, newest first; for an index, from its
    children changed within the window, newest first (a child that fails is a failure of its own)."""
    children: list[ChildSitemap]
    cap, children = fetcher.options.max_bytes, []
    try:
        newest = _newest(spec.max_items, [], _in_window(sitemap_items(content, cap), window, children))
    except ValueError as exc:
        raise FetchError(str(exc)) from None
    to_read, old, over_cap = _children_to_read(children, window)
    if old:  # every day's index lists past days: reading none of those is the point of the window
        result.notes.append(f"sitemap index: {old} of {len(children)} children not read (older than the window)")
    if over_cap:  # something of the window is not read: a failure the report shows
        result.failures.append(
            Failure(
                spec.name,
                spec.location,
                f"sitemap index: {over_cap} of {len(children)} "
                f"children not read (only the {MAX_CHILD_SITEMAPS} newest are read)",
            )
        )
    for child in to_read:
        try:
            fetched = await fetcher.get(child.url, local=spec.local)
            # An index of indexes is not followed further: the grandchildren are dropped.
            newest = _newest(spec.max_items, newest, _in_window(sitemap_items(fetched.content, cap), window, []))
        except (FetchError, ValueError) as exc:
            result.failures.append(Failure(spec.name, without_credentials(child.url), without_credentials(str(exc))))
    return newest


def _in_window(items: Iterator[ChildSitemap | Entry], window: Window, children: list[ChildSitemap]) -> Iterator[Entry]:
    """The entries dated within the window; child sitemaps go to `children`."""
    for item in items:
        if isinstance(item, ChildSitemap):
            children.append(item)
        elif item.published in window:
            yield item


def _newest(limit: int, kept: list[Entry], entries: Iterator[Entry]) -> list[Entry]:
    """The `limit` newest, newest first (undated last; equals in their order); no more are ever held."""
    return heapq.nlargest(limit, chain(kept, entries), key=lambda entry: entry.published or OLDEST)


def _children_to_read(children: list[ChildSitemap], window: Window) -> tuple[list[ChildSitemap], int, int]:
    """The child sitemaps worth reading, newest first (undated ones after, in the index's order), at most
    MAX_CHILD_SITEMAPS; how many were older than the window, and how many recent ones were over the cap."""
    recent = [child for child in children if child.modified is None or child.modified >= window.start]
    recent.sort(key=lambda child: (child.modified is not None, child.modified or OLDEST), reverse=True)
    return recent[:MAX_CHILD_SITEMAPS], len(children) - len(recent), max(0, len(recent) - MAX_CHILD_SITEMAPS)


async def _read_articles(
    spec: SourceSpec, fetcher: Fetcher, entries: list[Entry], result: SourceResult, emit: Emit
) -> None:
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
            await emit(outcome, (number,))

    await asyncio.gather(*(handed_on(number, entry) for number, entry in enumerate(entries)))


def _counted(emit: Emit, result: SourceResult) -> Callable[[RawDispatch, tuple[int, ...]], Coroutine[Any, Any, None]]:
    async def counting(raw: RawDispatch, position: tuple[int, ...]) -> None:
        result.read += 1
        await emit(raw, position)

    return counting


def without_credentials(text: str) -> str:
    """`text` with the user and password of any URL in it dropped: a feed's URL may carry them
    (https://user:secret@host/feed), and locations and reasons reach the digest and the logs."""
    return CREDENTIALS.sub(r"\1", text)


def _page(spec: SourceSpec, url: str, html: str, entry: Entry) -> RawDispatch:
    url = without_credentials(url)
    return RawDispatch(
        source=spec.name,
        location=url,
        body=html,
        kind="html",
        outlet=spec.outlet,
        title=entry.title,
        published=entry.published,
        url=url,
    )


# Reads one source: `read_source`, or the flow's task of it (tasks/prefect_tasks.py: a source that raises
# is retried once there), which `read_sources` takes as `read`.
Read = Callable[[SourceSpec, Fetcher, dict[str, dict[str, str]], date, Emit | None], Awaitable[SourceResult]]


async def read_sources(
    specs: list[SourceSpec],
    options: FetchOptions,
    validators: dict[str, dict[str, str]],
    day: date,
    emit: Emit | None = None,
    read: Read = read_source,
) -> list[SourceResult]:
    """Every source concurrently over one HTTP client, each by `read`; a failed source becomes a failure,
    not an exception.

    `emit` gets each dispatch with its position (source number first) as it is read."""

    def emit_for(number: int) -> Emit | None:
        if emit is None:
            return None

        def numbered(raw: RawDispatch, position: tuple[int, ...]) -> Awaitable[None]:
            return emit(raw, (number, *position))

        return numbered

    async def guarded(number: int, spec: SourceSpec) -> SourceResult:
        try:
            return await read(spec, fetcher, validators, day, emit_for(number))
        except Exception as exc:
            return SourceResult(failures=[Failure(spec.name, spec.location, without_credentials(_reason(exc)))])

    async with Fetcher(options) as fetcher:
        return list(await asyncio.gather(*(guarded(n, spec) for n, spec in enumerate(specs))))


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, FetchError) else f"{exc.__class__.__name__}: {exc}"
