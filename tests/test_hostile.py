"""Hostile input. Pages full of injection attempts (tests/fixtures/hostile: an HTML page, a wire
text, JSON records, an email, and an unreadable file with markup in its name) go through the real
flow into the HTML digest, the email and the Markdown artifact: no executable markup, checked with
lxml and in headless Chromium. And the fetcher facing hostile servers: schemes, redirects to
private addresses, redirect and body caps, gzip bombs, timeouts, broken URLs.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import shutil
import socket
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import lxml.html
import pytest

from tasks import fetch
from tasks.fetch import Fetcher, FetchError, FetchOptions
from tasks.sources import SourceSpec
from tests.conftest import ROOT
from tests.helpers import (
    CHROMIUM,
    FAST,
    PAGE,
    Inbox,
    require_browser as _require_browser,
    run_source as run,
    smtp_server,
)
from tests.http_server import FixtureServer, Reply

HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
PAYLOAD = "<script>window.__pwned=1</script>"
# Elements that run code, load something or change where links go; the digest needs none of them.
ACTIVE_TAGS = {
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "base",
    "form",
    "input",
    "button",
    "link",
    "style",
    "img",
    "video",
    "audio",
    "source",
    "noscript",
    "template",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "xlink:href", "srcset"}


def active_markup(html: str) -> list[str]:
    """Every element, attribute or link in `html` that could run code or load something."""
    found = []
    for element in lxml.html.document_fromstring(html).iter():
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        if element.tag in ACTIVE_TAGS or (element.tag == "meta" and element.get("http-equiv")):
            found.append(f"<{element.tag}>")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"{element.tag} {name}={value!r}")
            if name.lower() in URL_ATTRIBUTES and urlsplit(value.strip()).scheme not in ("http", "https", ""):
                found.append(f"{element.tag} {name}={value!r}")
            if name.lower() == "style" and re.search(r"url\(|expression|javascript:|@import", value, re.I):
                found.append(f"{element.tag} style={value!r}")
    return found


def hostile_config(folder: Path, port: int, extra: str = "") -> Path:
    """A config reading the hostile fixtures (and one unreadable file named with markup), emailing port."""
    inputs = folder / "in"
    shutil.copytree(HOSTILE, inputs)
    (inputs / 'bad"<img src=x onerror=window.__pwned=1>.txt').write_bytes(b"\xff\xfe not UTF-8")
    config = folder / "digest.toml"
    config.write_text(
        f'[digest]\ntitle = "Desk {PAYLOAD}"\nout_dir = "{folder / "digests"}"\ndata_dir = "{folder / "data"}"\n'
        f'[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "digest@desk.example"\n'
        f'recipients = ["desk@desk.example"]\nretries = 0\n{extra}'
        f'[[sources]]\nname = "hostile"\npath = "{inputs}"\n',
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="module")
def hostile_run(prefect_api, tmp_path_factory):
    """The flow run once over the hostile fixtures: its files, its email and its artifact."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.daily_digest import run_daily_digest

    folder = tmp_path_factory.mktemp("hostile")
    inbox = Inbox()
    with smtp_server(inbox) as controller:
        state = run_daily_digest(
            date="2026-11-27", config_path=str(hostile_config(folder, controller.port)), return_state=True
        )
    assert state.is_completed(), state.message

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
                )
            )

    [artifact] = asyncio.run(artifacts())
    [(_, message)] = inbox.messages
    out = folder / "digests"
    return {
        "file": out / "2026-11-27.html",
        "html": (out / "2026-11-27.html").read_text(encoding="utf-8"),
        "json": json.loads((out / "2026-11-27.json").read_text(encoding="utf-8")),
        "email": message.get_body(("html",)).get_content(),
        "subject": message["Subject"],
        "artifact": artifact.data,
    }


@pytest.mark.prefect  # hostile_run runs the flow on the session's Prefect server
def test_hostile_pages_reach_the_digest_as_text_and_nothing_runs(hostile_run):
    from markdown_it import MarkdownIt

    data = hostile_run["json"]
    assert len(data["stories"]) >= 6  # every hostile dispatch made it into the digest
    assert "onerror" in data["report"]["failures"][0]["location"]  # shown in the digest's run report
    assert any(
        r["reason"] == "code or markup" and "<svg onload=window.__pwned=1>" in r["text"]
        for r in data["report"]["removals"]
    )  # removed, and said so
    # The Prefect UI renders the artifact's Markdown: raw HTML in it would be live there.
    artifact_html = MarkdownIt("commonmark").render(hostile_run["artifact"])
    for name in ("html", "email"):
        html = hostile_run[name]
        assert active_markup(html) == [], name
        visible = lxml.html.document_fromstring(html).text_content()
        assert PAYLOAD in visible, name  # the config's title, shown as text
        # A dispatch's line holding markup is markup damaged HTML left as text: never shown to a reader.
        assert "<svg" not in visible, name
        hrefs = [a.get("href") for a in lxml.html.document_fromstring(html).iter("a")]
        assert hrefs and all(h.startswith(("https://", "#story-")) for h in hrefs), hrefs
    assert active_markup(f"<html><body>{artifact_html}</body></html>") == []
    assert "javascript:" not in " ".join(a.get("href", "") for a in lxml.html.fromstring(artifact_html).iter("a"))
    assert PAYLOAD in hostile_run["subject"]  # a header is text: no HTML part reads it


@pytest.mark.prefect  # and Chromium
def test_hostile_digest_in_chromium_runs_no_script_and_requests_nothing(hostile_run):
    _require_browser()
    from playwright.sync_api import sync_playwright

    requested, dialogs = [], []

    def record(route):
        requested.append(route.request.url)
        (route.continue_() if route.request.url.startswith("file:") else route.abort())

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.route("**/*", record)
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            for load in (
                lambda: page.goto(hostile_run["file"].as_uri()),
                lambda: page.set_content(hostile_run["email"]),
            ):
                load()
                page.wait_for_load_state("load")
                page.mouse.move(200, 200)
                for link in page.locator("a").all():
                    link.hover()  # would fire an injected onmouseover
                page.wait_for_timeout(300)
                assert page.evaluate("window.__pwned") is None
                assert page.title().startswith(f"Desk {PAYLOAD} — 2026-11-27")
                assert (
                    page.evaluate("""[...document.querySelectorAll('*')].flatMap(e => [...e.attributes])
                                        .filter(a => a.name.startsWith('on')).length""")
                    == 0
                )
                assert page.evaluate("document.scripts.length + document.querySelectorAll('iframe,svg').length") == 0
        finally:
            browser.close()
    assert dialogs == []
    assert requested == [hostile_run["file"].as_uri()]  # the file itself: nothing else, nowhere else


# The fetcher facing hostile servers ------------------------------------------------------------


def fetch_one(
    url: str, transport: httpx.AsyncBaseTransport | None = None, local: bool = False, options: FetchOptions = FAST
) -> str:
    """The FetchError reason of one GET, or "ok <final url>"."""

    async def go():
        async with Fetcher(options.model_copy(update={"retries": 0}), transport=transport) as fetcher:
            return f"ok {(await fetcher.get(url, local=local)).url}"

    try:
        return asyncio.run(go())
    except FetchError as exc:
        return str(exc)


@pytest.mark.parametrize(
    "target",
    ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "data:text/html,hi", "gopher://127.0.0.1:70/"],
)
def test_a_redirect_may_only_lead_to_http_or_https(target):
    with FixtureServer() as server:
        server.routes["/go"] = Reply(302, b"", {"Location": target})
        reason = fetch_one(server.url("/go"), local=True)
        # httpx itself rejects some ("javascript:alert(1)" has no path): refused either way, one page only.
        assert reason.startswith("refused ") and ("only http and https" in reason or "URL" in reason), reason
        assert list(server.requests) == ["/go"]


PRIVATE = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fd00::1]/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",
]


@pytest.fixture
def public_news(monkeypatch):
    """news.example resolves to a public address and redirects to ?to=; every request is recorded."""
    real = fetch.unsafe_address
    monkeypatch.setattr(fetch, "unsafe_address", lambda host: None if host == "news.example" else real(host))
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "news.example":
            return httpx.Response(302, headers={"Location": request.url.params["to"]})
        return httpx.Response(200, text=PAGE, headers={"Content-Type": "text/html"})

    return httpx.MockTransport(answer), seen


@pytest.mark.parametrize("target", PRIVATE)
def test_redirect_to_a_private_address_is_refused_unless_the_source_is_local(public_news, target):
    transport, seen = public_news
    start = str(httpx.URL("http://news.example/story", params={"to": target}))
    assert "non-public address" in fetch_one(start, transport)
    assert seen == [start]  # the private address was never asked
    if urlsplit(target).hostname in ("127.0.0.1", "localhost", "::1"):
        assert fetch_one(start, transport, local=True).startswith("ok http")


def test_redirects_are_capped(tmp_path):
    with FixtureServer() as server:
        for n in range(10):
            server.routes[f"/hop{n}"] = Reply(302, b"", {"Location": f"/hop{n + 1}"})
        reason = fetch_one(server.url("/hop0"), local=True, options=FAST.model_copy(update={"max_redirects": 3}))
        assert reason == "more than 3 redirects"
        assert sorted(server.requests) == ["/hop0", "/hop1", "/hop2", "/hop3"]


def _streamed(chunks, encoding: str | None = None) -> tuple[httpx.MockTransport, list[int]]:
    """A response streamed from `chunks` (no Content-Length), counting the bytes the client pulled."""
    pulled = [0]

    async def body():
        for chunk in chunks:
            pulled[0] += len(chunk)
            yield chunk

    headers = {"Content-Type": "text/html", **({"Content-Encoding": encoding} if encoding else {})}
    return httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, content=body())), pulled


def _gzip_zeros(megabytes: int):
    """A gzip stream of `megabytes` MB of zeros, made lazily (1 GB is ~1 MB of gzip)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * 1_000_000
    for _ in range(megabytes):
        if out := packer.compress(block):
            yield out
    yield packer.flush()


def test_gzip_bomb_is_refused_without_inflating_it(monkeypatch):
    transport, pulled = _streamed(_gzip_zeros(1000), "gzip")  # 1 GB of zeros in ~1 MB
    inflated = []  # what each piece of the body read inflated to
    feed = fetch._Inflater.feed

    def counted(self, data: bytes, room: int) -> bytes:
        inflated.append(len(out := feed(self, data, room)))
        return out

    monkeypatch.setattr(fetch._Inflater, "feed", counted)
    reason = fetch_one("http://127.0.0.1/bomb", transport, local=True)
    assert reason == f"body over the {FAST.max_bytes} byte cap"
    assert pulled[0] < 50_000  # a few KB read, not the megabyte
    assert sum(inflated) <= FAST.max_bytes + 1  # and inflated to one byte over the cap at most, not the gigabyte


def test_gzip_bomb_from_a_real_server_and_a_stacked_one():
    bomb = gzip.compress(b"\0" * 20_000_000)  # 20 MB in ~20 KB
    with FixtureServer() as server:
        server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})
        # Stacked: 484 bytes that httpx alone inflated to 200 MB before any cap (gzip of a gzip bomb).
        server.routes["/stacked"] = Reply(200, gzip.compress(bomb), {"Content-Encoding": "gzip, gzip"})
        server.routes["/ok"] = Reply(200, gzip.compress(PAGE.encode()), {"Content-Encoding": "gzip"})
        assert "over the 200000 byte cap" in fetch_one(server.url("/bomb"), local=True)
        assert fetch_one(server.url("/stacked"), local=True) == "unsupported content encoding 'gzip, gzip'"
        assert fetch_one(server.url("/ok"), local=True).startswith("ok ")  # gzip itself still works


def test_endless_body_without_content_length_is_cut_at_the_cap():
    transport, pulled = _streamed(b"<p>" + b"x" * 65_536 for _ in range(10_000))
    assert fetch_one("http://127.0.0.1/endless", transport, local=True) == "body over the 200000 byte cap"
    assert pulled[0] < 400_000


def test_connect_timeout():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # never accepted: once its queue is full, connections hang in SYN
        port = listener.getsockname()[1]
        queued = [socket.socket() for _ in range(3)]
        for sock in queued:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        transport = TimeoutsSeen()
        reason = fetch_one(
            f"http://127.0.0.1:{port}/", transport, local=True, options=FAST.model_copy(update={"connect_timeout": 0.5})
        )
        for sock in queued:
            sock.close()
    assert reason == "connect timeout after 0.5 s (after 1 attempts)"
    # One attempt, whose connection was given 0.5 s: not the 5 s default, not the read or total timeout.
    assert [timeouts["connect"] for timeouts in transport.timeouts] == [0.5]


class TimeoutsSeen(httpx.AsyncHTTPTransport):
    """httpx's own transport, keeping the timeouts each request was sent with."""

    def __init__(self):
        super().__init__()
        self.timeouts: list[dict] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(request.extensions["timeout"])
        return await super().handle_async_request(request)


@contextmanager
def trickling_server(delay: float):
    """Answers headers at once, then one byte of body every `delay` seconds: no read ever times out."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
            while not stop.wait(delay):
                try:
                    connection.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def test_a_trickling_server_cannot_hold_the_fetch_past_the_total_timeout(monkeypatch):
    deadlines = []  # each asyncio.timeout the fetch set
    timeout = asyncio.timeout
    monkeypatch.setattr(fetch.asyncio, "timeout", lambda delay: deadlines.append(delay) or timeout(delay))
    with trickling_server(0.1) as url:  # 100,000 bytes, one every 0.1 s: every read answers within the 1 s read timeout
        reason = fetch_one(url, local=True, options=FAST.model_copy(update={"total_timeout": 1.5}))
    # The one request ran under a 1.5 s deadline, and that deadline ended it (only asyncio.timeout raises
    # the TimeoutError this reason names), not the end of the body nor a read timeout.
    assert deadlines == [1.5] and FAST.read_timeout > 0.1
    assert reason == "timeout: no complete answer in 1.5 s (after 1 attempts)"


def test_broken_urls_fail_their_page_not_the_whole_source():
    with FixtureServer() as server:
        server.routes["/robots.txt"] = Reply(404, "")
        server.routes["/a1"] = Reply(200, PAGE)
        server.routes["/ipv6"] = Reply(302, b"", {"Location": "http://[::1/"})
        server.routes["/idna"] = Reply(302, b"", {"Location": "http://\u2460\u2461\u2466.0.0.1/"})
        server.routes["/nul"] = Reply(302, b"", {"Location": "http://x\x01y/"})
        urls = [server.url(p) for p in ("/a1", "/ipv6", "/idna", "/nul")]
        for local in (True, False):
            result = run(
                SourceSpec(name="desk", kind="urls", urls=urls, local=local), FAST.model_copy(update={"retries": 0})
            )
            assert len(result.raws) == int(local) and len(result.failures) == 4 - int(local)
    long_label = "a" * 64 + ".example"  # IDNA cannot encode it: this raised UnicodeError out of the fetcher
    assert fetch_one(f"http://{long_label}/") == f"cannot resolve {long_label}: not a valid host name"
