"""Issue 24: local files and sitemaps that could hang a run, exhaust its memory or leak a secret.

Real parts only: FIFOs, symlinks and sparse files on disk, and the fixture HTTP server on 127.0.0.1."""

import json
import os
import threading
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from tasks.sources import Refused, SourceSpec, load_source
from tests.helpers import PAGE, run_source as run
from tests.http_server import FixtureServer, Reply

CAP = 10_000  # bytes: small, so that every file below is far over it


def finished(call, seconds: float = 60):
    """call()'s result; the test fails, instead of hanging the suite, when it has not returned by then."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 (handed to the test below)
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still running after {seconds} s: it hangs")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def load(spec: SourceSpec, max_bytes: int = CAP) -> tuple[list, dict]:
    """(raws, {file name or name#line: reason}) of a files source, read within a bounded wait."""
    raws = []
    failures = finished(lambda: load_source(spec, lambda raw, _: raws.append(raw), max_bytes))
    return raws, {f.location.rsplit("/", 1)[-1]: f.reason for f in failures}


def release(fifo) -> None:
    """Lets a reader stuck opening `fifo` go on (a regression), so no thread stays blocked."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # nobody is waiting on it: the read did not block
        pass


def test_a_fifo_is_refused_and_the_read_finishes(tmp_path):
    desk = tmp_path / "desk"
    desk.mkdir()
    (desk / "good.txt").write_text("A good dispatch.")
    os.mkfifo(desk / "pipe.txt")
    try:
        raws, reasons = load(SourceSpec(name="desk", path=desk))
    finally:
        release(desk / "pipe.txt")
    assert [r.body for r in raws] == ["A good dispatch."]
    assert reasons == {"pipe.txt": "not a regular file (a FIFO): only regular files are read"}


def test_a_fifo_as_urls_file_fails_its_source_instead_of_hanging(tmp_path):
    os.mkfifo(tmp_path / "urls.txt")
    spec = SourceSpec(name="links", kind="urls", urls_file=tmp_path / "urls.txt", local=True)
    try:
        with pytest.raises(Refused, match=r"not a regular file \(a FIFO\)"):
            finished(lambda: run(spec))
    finally:
        release(tmp_path / "urls.txt")


def test_a_symlink_out_of_the_folder_is_refused_unless_follow_links(tmp_path):
    desk, secret = tmp_path / "desk", tmp_path / "secret"
    (desk / "sub").mkdir(parents=True)
    secret.mkdir()
    (secret / "notes").write_text("password: hunter2")
    (desk / "notes.txt").symlink_to("../secret/notes")
    (desk / "sub" / "real.txt").write_text("A dispatch in a subfolder.")
    (desk / "inside.txt").symlink_to("sub/real.txt")  # stays in the folder: read

    raws, reasons = load(SourceSpec(name="desk", path=desk))
    assert sorted(r.location.rsplit("/", 1)[-1] for r in raws) == ["inside.txt", "real.txt"]
    assert not any("hunter2" in r.body for r in raws)
    assert reasons == {
        "notes.txt": "symlink leading out of the source's folder: not read (set follow_links = true to read it)"
    }

    raws, reasons = load(SourceSpec(name="desk", path=desk, follow_links=True))
    assert reasons == {} and any("hunter2" in r.body for r in raws)


def test_files_over_the_cap_are_refused_without_being_read(tmp_path):
    desk, elsewhere = tmp_path / "desk", tmp_path / "elsewhere"
    desk.mkdir()
    elsewhere.mkdir()
    for name, size in (
        ("huge.txt", 85_000_000),
        ("huge.json", 200_000_000),
        ("huge.eml", 50_000_000),
        ("gigabyte", 1_000_000_000),
    ):
        target = (elsewhere if name == "gigabyte" else desk) / name
        target.touch()
        os.truncate(target, size)  # sparse: nothing on disk
    (desk / "page.html").symlink_to(elsewhere / "gigabyte")
    (desk / "small.txt").write_text("A small dispatch.")

    tracemalloc.start()
    try:
        raws, reasons = load(SourceSpec(name="desk", path=desk, follow_links=True))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r.body for r in raws] == ["A small dispatch."]
    assert reasons == {
        "huge.txt": "file of 85000000 bytes is over the 10000 byte cap (fetch.max_bytes)",
        "huge.json": "file of 200000000 bytes is over the 10000 byte cap (fetch.max_bytes)",
        "huge.eml": "file of 50000000 bytes is over the 10000 byte cap (fetch.max_bytes)",
        "page.html": "file of 1000000000 bytes is over the 10000 byte cap (fetch.max_bytes)",
    }
    assert peak < CAP * 10, f"{peak} bytes traced: a refused file was read"


def test_a_jsonl_record_over_the_cap_fails_alone_and_the_file_is_streamed(tmp_path):
    records = tmp_path / "wire.jsonl"
    long_record = json.dumps({"text": "x" * (3 * CAP)})
    records.write_text("\n".join([json.dumps({"text": "first"}), long_record, json.dumps({"text": "third"})]) + "\n")
    endless = tmp_path / "endless.jsonl"  # 200 MB of zeros and no line end: one record, never held
    endless.touch()
    os.truncate(endless, 200_000_000)

    tracemalloc.start()
    try:
        raws, reasons = load(SourceSpec(name="wire", path=tmp_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r.body for r in raws] == ["first", "third"]
    assert raws[1].location.endswith("wire.jsonl#3")
    assert reasons == {
        "wire.jsonl#2": "record over the 10000 byte cap (fetch.max_bytes)",
        "endless.jsonl#1": "record over the 10000 byte cap (fetch.max_bytes)",
    }
    assert peak < CAP * 10, f"{peak} bytes traced: a record over the cap was held"


def test_one_invalid_utf8_byte_fails_its_jsonl_record_only(tmp_path):
    (tmp_path / "wire.jsonl").write_bytes(b'{"text": "premier"}\n{"text": "caf\xe9"}\n{"text": "troisi\xc3\xa8me"}\n')
    raws, reasons = load(SourceSpec(name="wire", path=tmp_path))
    assert [r.body for r in raws] == ["premier", "troisième"]
    assert list(reasons) == ["wire.jsonl#2"] and "can't decode byte 0xe9" in reasons["wire.jsonl#2"]


@pytest.fixture
def server():
    with FixtureServer() as fixture:
        fixture.routes["/robots.txt"] = Reply(200, "User-agent: *\n", {"Content-Type": "text/plain"})
        yield fixture


def urlset(*urls: tuple[str, datetime]) -> Reply:
    body = "".join(f"<url><loc>{loc}</loc><lastmod>{moment.isoformat()}</lastmod></url>" for loc, moment in urls)
    return Reply(
        200,
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>',
        {"Content-Type": "application/xml"},
    )


def test_sitemap_index_listing_old_children_first_reaches_today_and_says_what_it_skipped(server):
    today = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    # 70 children of last month first, then 55 of the last two days, the newest last; one of those is gone.
    children = [(f"/old{n}.xml", today - timedelta(days=30 + n)) for n in range(70)]
    children += [(f"/new{n}.xml", today - timedelta(minutes=40 * n)) for n in reversed(range(55))]
    server.routes["/index.xml"] = Reply(
        200,
        (
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(
                f"<sitemap><loc>{server.url(path)}</loc><lastmod>{moment.isoformat()}</lastmod></sitemap>"
                for path, moment in children
            )
            + "</sitemapindex>"
        ),
        {"Content-Type": "application/xml"},
    )
    for path, moment in children:
        stem = path.removesuffix(".xml")
        server.routes[path] = urlset(
            (server.url(f"{stem}/a"), moment), (server.url(f"{stem}/b"), moment - timedelta(minutes=1))
        )
    server.routes["/new3.xml"] = Reply(404, "gone")
    for page in ("/new0/a", "/new0/b", "/new1/a"):
        server.routes[page] = Reply(200, PAGE)

    result = run(SourceSpec(name="map", kind="sitemap", url=server.url("/index.xml"), local=True, max_items=3))
    assert [r.url for r in result.raws] == [server.url("/new0/a"), server.url("/new0/b"), server.url("/new1/a")]
    assert sorted((f.location, f.reason) for f in result.failures) == [
        (server.url("/index.xml"), "sitemap index: 5 of 125 children not read (only the 50 newest are read)"),
        (server.url("/new3.xml"), "HTTP 404"),
    ]
    assert result.notes == ["sitemap index: 70 of 125 children not read (older than the window)"]
    read = {path for path, _ in children if path in server.requests}
    assert read == {f"/new{n}.xml" for n in range(50)}


FEED_ITEM = "<item><title>Storm&nbsp;hits the coast</title><link>{link}</link><pubDate>Fri, 27 Nov 2026 08:00:00 GMT</pubDate></item>"


@pytest.mark.parametrize(
    "doctype",
    [
        "",  # &nbsp; undeclared
        '<!DOCTYPE rss [<!ENTITY desk "The&nbsp;desk">]>',  # an internal DTD, itself using an undeclared entity
    ],
    ids=["undeclared-entity", "internal-dtd"],
)
def test_auto_detects_a_feed_that_is_not_well_formed(server, doctype):
    item = FEED_ITEM.format(link=server.url("/a1"))
    server.routes["/feed"] = Reply(
        200,
        f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel><title>Desk</title>{item}</channel></rss>',
        {"Content-Type": "text/xml"},
    )
    server.routes["/a1"] = Reply(200, PAGE)
    result = run(SourceSpec(name="auto", kind="auto", url=server.url("/feed"), local=True))
    assert result.failures == []
    assert [(r.url, r.title) for r in result.raws] == [(server.url("/a1"), "Storm\xa0hits the coast")]


def test_auto_feed_detection_neither_resolves_nor_expands_entities(server):
    laughs = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    doctype = (
        f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{server.url("/evil.dtd")}"> %remote; '
        f'<!ENTITY passwd SYSTEM "file:///etc/passwd"> {laughs}]>'
    )
    server.routes["/evil.dtd"] = Reply(
        200, '<!ENTITY leaked "from the network">', {"Content-Type": "application/xml-dtd"}
    )
    item = (
        f"<item><title>&passwd;&leaked;&lol9;&nbsp;</title><link>{server.url('/a1')}</link>"
        "<description>&lol9;&passwd;</description></item>"
    )
    server.routes["/feed"] = Reply(
        200,
        f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel><title>Desk</title>{item}</channel></rss>',
        {"Content-Type": "text/xml"},
    )
    server.routes["/a1"] = Reply(200, PAGE)
    spec = SourceSpec(name="auto", kind="auto", url=server.url("/feed"), local=True, entry_content=True)
    result = finished(lambda: run(spec))
    assert "/feed" in server.requests and "/evil.dtd" not in server.requests
    [raw] = result.raws
    assert raw.url == server.url("/a1")  # read as a feed, through feedparser's loose parser
    shown = f"{raw.title} {raw.body}"
    assert "root:" not in shown and "from the network" not in shown and "lollollol" not in shown
