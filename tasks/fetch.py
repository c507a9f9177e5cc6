"""HTTP fetching as a well-behaved client: one connection pool per run, per-host limits
and politeness, retries with backoff, size caps, safe hosts only, robots.txt honoured.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import random
import re
import socket
import time
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import cast
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
from charset_normalizer import from_bytes
from pydantic import BaseModel, ConfigDict, Field

from tasks.errors import FetchError  # defined there, with the other errors; imported from here too

USER_AGENT = "DispatchDigest/0.1 (news digest; +https://pypi.org/project/dispatch-digest/)"
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)["']""")
HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECTS = {301, 302, 303, 307, 308}


class FetchOptions(BaseModel):
    # Upper bounds: a daily run must end (TOML's `inf` overflows the socket's timeout, a delay of days
    # stalls it), and each request in flight holds a file descriptor.
    model_config = ConfigDict(extra="forbid", frozen=True)

    user_agent: str = USER_AGENT
    connect_timeout: float = Field(5.0, gt=0, le=60)
    read_timeout: float = Field(15.0, gt=0, le=600)
    retries: int = Field(3, ge=0, le=10, description="retries on timeouts, 429 and 5xx")
    backoff: float = Field(0.5, ge=0, le=60, description="first retry delay in seconds, doubled each time, with jitter")
    max_retry_after: float = Field(60.0, ge=0, le=3600, description="longest Retry-After honoured, in seconds")
    max_bytes: int = Field(5_000_000, gt=0, description="largest body, after decompression")
    max_redirects: int = Field(5, ge=0)
    total_timeout: float = Field(60.0, gt=0, le=3600, description="longest one request may take, body included")
    concurrency: int = Field(8, ge=1, le=256, description="requests in flight at once")
    per_host: int = Field(2, ge=1, le=256, description="requests in flight to one host")
    host_delay: float = Field(0.5, ge=0, le=60, description="seconds between two requests to one host")
    robots: bool = Field(True, description="honour robots.txt for article pages")


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    content: bytes
    content_type: str
    charset: str | None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def text(self) -> str:
        return decode(self.content, self.charset)


def decode(content: bytes, declared: str | None) -> str:
    """Bytes to text: the HTTP charset, else <meta charset> or the XML declaration, else detection."""
    for candidate in (declared, _sniff_charset(content)):
        if candidate and _known_codec(candidate):
            return content.decode(candidate, errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(content).best()
        return str(best) if best else content.decode("utf-8", errors="replace")


def _sniff_charset(content: bytes) -> str | None:
    head = content[:4096]
    match = XML_ENCODING.match(head) or META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def _known_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
        return True
    except LookupError:
        return False


def unsafe_address(host: str) -> str | None:
    """The first address of `host` that is loopback, private, link-local, multicast or reserved."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    except UnicodeError:  # a label empty or over 63 characters: IDNA cannot encode it
        raise FetchError(f"cannot resolve {host}: not a valid host name") from None
    for info in infos:
        address = ipaddress.ip_address(cast(str, info[4][0]).split("%")[0])  # IPv4 and IPv6: the host is a str
        # not is_global: also the shared address space 100.64.0.0/10 (carrier NAT, some cloud metadata).
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            or not address.is_global
        ):
            return str(address)
    return None


@dataclass
class _Host:
    slots: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_request: float = 0.0


class Fetcher:
    """One pooled HTTP/1.1 client for a whole run; use as `async with Fetcher(options) as fetcher`."""

    def __init__(self, options: FetchOptions, transport: httpx.AsyncBaseTransport | None = None):
        self.options = options
        self._transport = transport
        self._slots = asyncio.Semaphore(options.concurrency)
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, RobotFileParser] = {}
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Fetcher:
        o = self.options
        self._client = httpx.AsyncClient(
            headers={"User-Agent": o.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(o.read_timeout, connect=o.connect_timeout),
            limits=httpx.Limits(max_connections=o.concurrency, max_keepalive_connections=o.concurrency),
            follow_redirects=False,  # each hop is checked for safety and counted here
            transport=self._transport,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await cast(httpx.AsyncClient, self._client).aclose()  # opened by __aenter__

    async def get(
        self,
        url: str,
        *,
        local: bool = False,
        accept: tuple[str, ...] = (),
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """GET with redirects checked hop by hop; `accept` lists content types (prefixes) allowed."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = set()
        for _ in range(self.options.max_redirects + 1):
            await self._check(url, local)
            seen.add(url)
            fetched, location = await self._with_retries(url, headers)
            if location is None:
                return self._accepted(fetched, accept)
            try:
                url = urljoin(url, location)
            except ValueError:  # "http://[::1/": a hostile Location must fail this page, not the source
                raise FetchError(f"invalid redirect to {location!r}") from None
            if url in seen:
                raise FetchError(f"redirect loop at {url}")
        raise FetchError(f"more than {self.options.max_redirects} redirects")

    async def allowed(self, url: str, *, local: bool = False) -> bool:
        """robots.txt's word for our user agent; a missing or unreadable robots.txt allows."""
        if not self.options.robots:
            return True
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self._robots:
            parser = RobotFileParser()
            try:
                fetched = await self.get(f"{root}/robots.txt", local=local)
                parser.parse(fetched.text.splitlines())
            except FetchError as exc:
                # Set by RobotFileParser.__init__, read by can_fetch; typeshed does not declare them.
                parser.disallow_all = exc.status in (401, 403)  # type: ignore[attr-defined]
                parser.allow_all = not parser.disallow_all  # type: ignore[attr-defined]
            self._robots[root] = parser
        return self._robots[root].can_fetch(self.options.user_agent, url)

    async def _check(self, url: str, local: bool) -> None:
        try:
            parts = urlsplit(url)
            parts.hostname  # noqa: B018 (raises on a broken IPv6 literal)
        except ValueError:
            raise FetchError(f"refused {url!r}: not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refused {url!r}: only http and https URLs are fetched")
        if not local:
            bad = await asyncio.to_thread(unsafe_address, parts.hostname)
            if bad:
                raise FetchError(
                    f"refused {parts.hostname}: it resolves to a non-public address ({bad}); "
                    "mark the source `local = true` to allow it"
                )

    async def _with_retries(self, url: str, headers: dict[str, str]) -> tuple[Fetched, str | None]:
        reason = ""
        answered: int | None = None  # the HTTP status the last attempt failed on, if it failed on one
        for attempt in range(self.options.retries + 1):
            delay, answered = self.options.backoff * 2**attempt * random.uniform(1, 1.5), None
            try:
                response = await self._request(url, headers)
            except httpx.ConnectTimeout:  # its own reason: "timeout after 15 s" named the wrong limit
                reason = f"connect timeout after {self.options.connect_timeout:g} s"
            except httpx.TimeoutException:
                reason = f"timeout after {self.options.read_timeout:g} s"
            except TimeoutError:  # asyncio.timeout: answering, but too slowly to finish
                reason = f"timeout: no complete answer in {self.options.total_timeout:g} s"
            except httpx.InvalidURL as exc:  # a host name httpx rejects (bad IDNA, control characters)
                raise FetchError(f"refused {url!r}: {exc}") from None
            except httpx.TransportError as exc:
                reason = f"connection failed: {exc.__class__.__name__} {exc}".strip()
            else:
                status, fetched, location, retry_after = response
                if status in REDIRECTS and location:
                    return fetched, location
                if status != 429 and status < 500:
                    if status >= 400:
                        raise FetchError(f"HTTP {status}", status=status)
                    return fetched, None
                reason, answered = f"HTTP {status}", status
                if retry_after is not None:
                    if retry_after > self.options.max_retry_after:
                        raise FetchError(
                            f"{reason}, Retry-After {retry_after:g} s is longer than allowed", status=status
                        )
                    delay = retry_after
            if attempt < self.options.retries:
                await asyncio.sleep(delay)
        raise FetchError(f"{reason} (after {self.options.retries + 1} attempts)", status=answered)

    async def _request(self, url: str, headers: dict[str, str]) -> tuple[int, Fetched, str | None, float | None]:
        host = self._hosts.setdefault(urlsplit(url).netloc, _Host(asyncio.Semaphore(self.options.per_host)))
        async with self._slots, host.slots:
            async with host.lock:  # politeness: space out requests to one host
                wait = host.next_request - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                host.next_request = time.monotonic() + self.options.host_delay
            # The read timeout is per read: a server trickling a byte at a time would hold the run forever.
            async with (
                asyncio.timeout(self.options.total_timeout),
                cast(httpx.AsyncClient, self._client).stream("GET", url, headers=headers) as response,
            ):
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.options.max_bytes:
                    raise FetchError(f"body of {declared} bytes is over the {self.options.max_bytes} byte cap")
                # An in-memory response (httpx.MockTransport) comes read and decoded already.
                read = response.is_stream_consumed
                inflater = _Inflater("" if read else response.headers.get("content-encoding", ""))
                chunks, size = [], 0
                async for raw in response.aiter_bytes() if read else response.aiter_raw():
                    chunk = inflater.feed(raw, self.options.max_bytes - size)
                    size += len(chunk)
                    if size > self.options.max_bytes:
                        raise FetchError(f"body over the {self.options.max_bytes} byte cap")
                    chunks.append(chunk)
        content_type = response.headers.get("content-type", "")
        fetched = Fetched(
            url=str(response.url),
            status=response.status_code,
            content=b"".join(chunks),
            content_type=content_type.split(";")[0].strip().lower(),
            charset=response.charset_encoding,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        return response.status_code, fetched, response.headers.get("location"), _retry_after(response)

    @staticmethod
    def _accepted(fetched: Fetched, accept: tuple[str, ...]) -> Fetched:
        if fetched.not_modified:
            return fetched
        if not fetched.content.strip():
            raise FetchError("empty response")
        if accept and fetched.content_type and not fetched.content_type.startswith(accept):
            raise FetchError(f"unexpected content type {fetched.content_type}")
        return fetched


class _Inflater:
    """Undoes a Content-Encoding with a bound on the output. httpx's own decoding inflates each
    network chunk whole (64 KB of gzip -> 64 MB) and stacks encodings: "gzip, gzip" turned a 484-byte
    body into 200 MB in memory before any cap could apply."""

    def __init__(self, encoding: str):
        self.encoding = encoding.strip().lower()
        if self.encoding in ("", "identity"):
            self._zlib = None
        elif self.encoding in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # a gzip or zlib header, detected
        else:  # stacked ("gzip, gzip": a bomb in a bomb) or not asked for (we send gzip, deflate)
            raise FetchError(f"unsupported content encoding {self.encoding!r}")
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """`data` inflated, at most room + 1 bytes: one more than the room left says the cap is passed."""
        if self._zlib is None:
            return data
        try:
            out = self._zlib.decompress(data, room + 1)
        except zlib.error as exc:
            if self._started or self.encoding != "deflate":
                raise FetchError(f"corrupt {self.encoding} body: {exc}") from None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, without its zlib header
            out = self._zlib.decompress(data, room + 1)
        self._started = True
        return out


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max((parsedate_to_datetime(value).timestamp() - time.time()), 0.0)
    except (TypeError, ValueError):
        return None
