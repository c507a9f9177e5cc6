"""Fetching against a real HTTP server on 127.0.0.1 serving fixture feeds, sitemaps and pages."""

import gzip
import time

import pytest

from tasks.clean import CleaningRules, clean
from tasks.fetch import FetchError, decode
from tasks.sources import SourceSpec
from tests.helpers import FAST, PAGE, article, rss, run_source as run
from tests.http_server import FixtureServer, Reply


@pytest.fixture
def server():
    with FixtureServer() as fixture:
        fixture.routes["/robots.txt"] = Reply(
            200, "User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"}
        )
        yield fixture


def test_rss_feed_entries_are_fetched_with_feed_metadata_and_entry_fallback(server):
    server.routes["/feed.xml"] = Reply(
        200,
        rss(
            ("Storm hits the coast", server.url("/a1"), "Fri, 27 Nov 2026 08:00:00 GMT"),
            ("Gone page", server.url("/gone"), "Fri, 27 Nov 2026 09:00:00 GMT"),
            ("Old story", server.url("/old"), "Mon, 02 Nov 2026 09:00:00 GMT"),
        ),
        {"Content-Type": "application/rss+xml"},
    )
    server.routes["/a1"] = Reply(200, PAGE)
    result = run(SourceSpec(name="desk", kind="feed", url=server.url("/feed.xml"), local=True))
    assert result.failures == []
    by_title = {r.title: r for r in result.raws}
    assert set(by_title) == {"Storm hits the coast", "Gone page"}  # the old entry is outside the window
    assert by_title["Storm hits the coast"].published.isoformat() == "2026-11-27T08:00:00+00:00"
    assert "40,000 homes" in by_title["Storm hits the coast"].body
    assert "carried by the feed itself" in by_title["Gone page"].body  # 404 page: the entry's own content
    assert "/old" not in server.requests
    assert server.requests["/a1"][0]["User-Agent"].startswith("DispatchDigest/")


def test_atom_feed_with_entry_content_fetches_no_page(server):
    server.routes["/atom"] = Reply(
        200,
        (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            '<entry><title>One</title><link href="/one"/><updated>2026-11-27T07:00:00Z</updated>'
            '<content type="html">&lt;p&gt;Le conseil a voté le budget lundi soir à l’unanimité.&lt;/p&gt;</content></entry>'
            '<entry><title>Two</title><link href="/two"/><updated>2026-11-26T07:00:00Z</updated>'
            '<content type="html">&lt;p&gt;Second entry text.&lt;/p&gt;</content></entry></feed>'
        ),
        {"Content-Type": "application/atom+xml"},
    )
    result = run(SourceSpec(name="atom", kind="feed", url=server.url("/atom"), local=True, entry_content=True))
    assert [r.title for r in result.raws] == ["One", "Two"]
    assert result.raws[0].url == server.url("/one") and "l’unanimité" in result.raws[0].body
    assert "/one" not in server.requests and "/two" not in server.requests


def test_sitemap_index_news_sitemap_and_date_window(server):
    server.routes["/sitemap.xml"] = Reply(
        200,
        (
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{server.url('/news.xml')}</loc></sitemap><sitemap><loc>{server.url('/old.xml.gz')}</loc></sitemap>"
            "</sitemapindex>"
        ),
        {"Content-Type": "application/xml"},
    )
    server.routes["/news.xml"] = Reply(
        200,
        (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"<url><loc>{server.url('/a1')}</loc><news:news><news:publication_date>2026-11-27T06:00:00Z"
            "</news:publication_date><news:title>Storm hits the coast</news:title></news:news></url></urlset>"
        ),
        {"Content-Type": "application/xml"},
    )
    server.routes["/old.xml.gz"] = Reply(
        200,
        gzip.compress(
            (
                '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{server.url('/old')}</loc><lastmod>2025-01-01</lastmod></url>"
                f"<url><loc>{server.url('/a2')}</loc><lastmod>2026-11-26</lastmod></url></urlset>"
            ).encode()
        ),
        {"Content-Type": "application/x-gzip"},
    )
    server.routes["/a1"] = Reply(200, PAGE)
    server.routes["/a2"] = Reply(200, PAGE.replace("Storm", "Flood"))
    result = run(SourceSpec(name="map", kind="sitemap", url=server.url("/sitemap.xml"), local=True))
    assert result.failures == []
    assert [r.url for r in result.raws] == [server.url("/a1"), server.url("/a2")]
    assert result.raws[0].title == "Storm hits the coast"
    assert "/old" not in server.requests


def test_conditional_get_304_costs_nothing_the_second_time(server):
    feed = rss(("Storm hits the coast", server.url("/a1"), "Fri, 27 Nov 2026 08:00:00 GMT"))
    server.routes["/feed.xml"] = [
        Reply(
            200,
            feed,
            {"Content-Type": "application/rss+xml", "ETag": '"v1"', "Last-Modified": "Fri, 27 Nov 2026 08:05:00 GMT"},
        ),
        Reply(304, b"", {"ETag": '"v1"'}),
    ]
    server.routes["/a1"] = Reply(200, PAGE)
    spec = SourceSpec(name="desk", kind="feed", url=server.url("/feed.xml"), local=True)
    first = run(spec)
    assert len(first.raws) == 1
    second = run(spec, validators=first.validators)
    assert second.raws == [] and second.failures == []
    assert second.validators == first.validators
    sent = server.requests["/feed.xml"][1]
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == "Fri, 27 Nov 2026 08:05:00 GMT"
    assert len(server.requests["/a1"]) == 1


@pytest.mark.parametrize(
    ("route", "reply", "reason", "attempts"),
    [
        ("/slow", Reply(200, PAGE, delay=3), "timeout after 1 s", 3),
        ("/missing", Reply(404, "nope"), "HTTP 404", 1),
        ("/big", Reply(200, PAGE + "x" * 300_000), "over the 200000 byte cap", 1),
        ("/empty", Reply(200, b""), "empty response", 1),
        ("/loop", Reply(302, b"", {"Location": "/loop2"}), "redirect loop", 1),
        (
            "/pdf",
            Reply(200, b"%PDF-1.4", {"Content-Type": "application/pdf"}),
            "unexpected content type application/pdf",
            1,
        ),
        ("/private/x", Reply(200, PAGE), "disallowed by robots.txt", 0),
        ("/down", Reply(503, "busy"), "HTTP 503 (after 3 attempts)", 3),
    ],
)
def test_article_failures_are_reported_with_the_reason(server, route, reply, reason, attempts):
    server.routes[route] = reply
    server.routes["/loop2"] = Reply(301, b"", {"Location": "/loop"})
    result = run(SourceSpec(name="desk", kind="urls", urls=[server.url(route)], local=True))
    assert result.raws == []
    [failure] = result.failures
    assert reason in failure.reason and failure.location == server.url(route) and failure.source == "desk"
    assert len(server.requests.get(route, [])) == attempts


def test_streamed_body_over_the_cap_without_content_length(server):
    chunked = Reply(200, PAGE + "y" * 300_000)
    server.routes["/stream"] = chunked
    options = FAST.model_copy(update={"max_bytes": 1000})
    result = run(SourceSpec(name="desk", kind="urls", urls=[server.url("/stream")], local=True), options)
    assert "cap" in result.failures[0].reason


def test_server_error_then_success_is_retried(server):
    server.routes["/flaky"] = [Reply(500, "oops"), Reply(200, PAGE)]
    result = run(SourceSpec(name="desk", kind="urls", urls=[server.url("/flaky")], local=True))
    assert len(result.raws) == 1 and len(server.requests["/flaky"]) == 2


def test_429_retry_after_is_respected(server):
    server.routes["/limited"] = [Reply(429, "slow down", {"Retry-After": "1"}), Reply(200, PAGE)]
    started = time.monotonic()
    result = run(SourceSpec(name="desk", kind="urls", urls=[server.url("/limited")], local=True))
    assert len(result.raws) == 1 and time.monotonic() - started >= 1.0


def test_latin1_declared_in_header_or_only_in_meta(server):
    text = "L’été à Besançon : la préfecture a levé l’alerte météo après trois jours de crue."
    server.routes["/header"] = Reply(
        200,
        article("Été", text.replace("’", "'"), meta=False).encode("latin-1"),
        {"Content-Type": "text/html; charset=ISO-8859-1"},
    )
    server.routes["/meta"] = Reply(
        200,
        article("Été", text.replace("’", "'"), charset="iso-8859-1").encode("latin-1"),
        {"Content-Type": "text/html"},
    )
    result = run(SourceSpec(name="fr", kind="urls", urls=[server.url("/header"), server.url("/meta")], local=True))
    assert len(result.raws) == 2
    for raw in result.raws:
        dispatch, _, failure = clean(raw, CleaningRules())
        assert failure is None and "L'été à Besançon : la préfecture" in dispatch.text


def test_decode_falls_back_to_detection():
    assert decode("déjà vu".encode(), None) == "déjà vu"
    assert "préfecture" in decode(("La préfecture a levé l'alerte. " * 5).encode("cp1252"), None)


def test_feed_that_is_not_xml_fails_the_source(server):
    server.routes["/feed.xml"] = Reply(200, "<html><body>Oops, a web page</body></html>")
    with pytest.raises(FetchError, match="not a feed"):
        run(SourceSpec(name="desk", kind="feed", url=server.url("/feed.xml"), local=True))


def test_non_local_source_on_loopback_is_refused_and_only_http_is_fetched(server):
    server.routes["/a1"] = Reply(200, PAGE)
    result = run(SourceSpec(name="desk", kind="urls", urls=[server.url("/a1"), "file:///etc/passwd"]))
    reasons = sorted(f.reason for f in result.failures)
    assert "only http and https" in reasons[0]
    assert "resolves to a non-public address (127.0.0.1)" in reasons[1]
    assert "/a1" not in server.requests


def test_auto_kind_detects_feed_sitemap_and_page(server):
    server.routes["/feed.xml"] = Reply(
        200,
        rss(("Storm hits the coast", server.url("/a1"), "Fri, 27 Nov 2026 08:00:00 GMT")),
        {"Content-Type": "text/xml"},
    )
    server.routes["/map.xml"] = Reply(
        200,
        (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{server.url('/a1')}</loc><lastmod>2026-11-27</lastmod></url></urlset>"
        ),
    )
    server.routes["/a1"] = Reply(200, PAGE)
    for path in ("/feed.xml", "/map.xml", "/a1"):
        result = run(SourceSpec(name="auto", kind="auto", url=server.url(path), local=True))
        assert [r.url for r in result.raws] == [server.url("/a1")], path


def test_politeness_delay_spaces_requests_to_one_host(server):
    server.routes["/a1"] = Reply(200, PAGE)
    server.routes["/a2"] = Reply(200, PAGE)
    options = FAST.model_copy(update={"host_delay": 0.3, "robots": False})
    started = time.monotonic()
    run(SourceSpec(name="desk", kind="urls", urls=[server.url("/a1"), server.url("/a2")], local=True), options)
    assert time.monotonic() - started >= 0.3


def test_credentials_in_a_source_url_never_reach_locations_or_reasons(server):
    server.routes["/a1"] = Reply(200, PAGE)
    secret_url = server.url("/a1").replace("http://", "http://desk:s3cr3t@")
    gone_url = server.url("/gone").replace("http://", "http://desk:s3cr3t@")
    result = run(SourceSpec(name="desk", kind="urls", urls=[secret_url, gone_url], local=True))
    seen = [(r.location, r.url) for r in result.raws] + [(f.location, f.reason) for f in result.failures]
    assert len(result.raws) == 1 and len(result.failures) == 1
    assert seen and not any("s3cr3t" in text for pair in seen for text in pair)
    assert SourceSpec(name="x", kind="feed", url="https://desk:s3cr3t@example.org/feed").location == (
        "https://example.org/feed"
    )
