"""Parse RSS/Atom feeds (feedparser) and XML sitemaps (lxml, streamed, no entities, no network)."""

from __future__ import annotations

import gzip
import io
from calendar import timegm
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import urljoin

import feedparser
from lxml import etree

from tasks.models import parse_datetime


FEED_ROOTS = {"rss", "feed", "RDF"}


class NotAFeed(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    """A feed entry or a sitemap URL: where the article is, and what the listing says of it."""

    url: str
    title: str | None = None
    published: datetime | None = None
    content: str | None = None  # the entry's own HTML, when the feed carries it


@dataclass(frozen=True)
class ChildSitemap:
    """A sitemap listed by a sitemap index, and when the index says it last changed."""

    url: str
    modified: datetime | None = None


def parse_feed(content: bytes, base_url: str, content_type: str = "") -> list[Entry]:
    """Entries with links made absolute against the feed's URL."""
    parsed = _feedparser(content, content_type)
    if not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise NotAFeed(f"not a feed: {problem}" if problem else "feed has no entries")
    entries = []
    for item in parsed.entries:
        moment = item.get("published_parsed") or item.get("updated_parsed")
        body = item["content"][0].get("value") if item.get("content") else item.get("summary")
        if item.get("link"):
            entries.append(Entry(
                url=urljoin(base_url, item["link"]),
                title=item.get("title"),
                published=datetime.fromtimestamp(timegm(moment), tz=timezone.utc) if moment else None,
                content=body or None,
            ))
    return entries


def looks_like_feed(content: bytes) -> bool:
    root = _root_name(content)
    if root is None and _root_name(content, recover=True) in FEED_ROOTS:
        # Not well-formed (an undeclared entity such as &nbsp;): feedparser's loose parser, which
        # parse_feed uses, may still read it. Only then, as it takes 30 ms on an ordinary web page.
        return bool(_feedparser(content).version)
    return root in FEED_ROOTS


def looks_like_sitemap(content: bytes) -> bool:
    return _root_name(content) in {"urlset", "sitemapindex"}


def sitemap_items(content: bytes, max_bytes: int) -> Iterator[ChildSitemap | Entry]:
    """The child sitemaps of an index, or the entries of a URL set (news sitemaps give titles and
    dates), one at a time as they are parsed: a sitemap of 50,000 URLs is never held whole."""
    events = etree.iterparse(io.BytesIO(_gunzip(content, max_bytes)), events=("start", "end"),
                             resolve_entities=False, no_network=True, huge_tree=False)
    try:
        _, root = next(events)
        name = etree.QName(root).localname
        if name not in ("sitemapindex", "urlset"):
            raise ValueError(f"not a sitemap: root element <{name}>")
        item = "sitemap" if name == "sitemapindex" else "url"
        for event, node in events:
            if event == "end" and node.getparent() is root and etree.QName(node).localname == item:
                found = _child_sitemap(node) if item == "sitemap" else _sitemap_entry(node)
                if found:  # None: no <loc>
                    yield found
                node.clear()
                while node.getprevious() is not None:  # drop what was read: the tree stays one item deep
                    del root[0]
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from None


def _child_sitemap(node) -> ChildSitemap | None:
    loc = _text(node, "loc")
    return ChildSitemap(loc, parse_datetime(_text(node, "lastmod"))) if loc else None


def _sitemap_entry(node) -> Entry | None:
    loc = _text(node, "loc")
    if not loc:
        return None
    news = next((n for n in node if isinstance(n.tag, str) and etree.QName(n).localname == "news"), None)
    published = _text(news, "publication_date") if news is not None else None
    title = _text(news, "title") if news is not None else None
    return Entry(url=loc, title=title, published=parse_datetime(published or _text(node, "lastmod")))


def _gunzip(content: bytes, max_bytes: int) -> bytes:
    if content[:2] != b"\x1f\x8b":
        return content
    with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"sitemap over the {max_bytes} byte cap once decompressed")
    return data


def _parse_xml(content: bytes, recover: bool = False):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=recover, huge_tree=False)
    try:
        return etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from None


def _root_name(content: bytes, recover: bool = False) -> str | None:
    try:
        root = _parse_xml(content.strip(), recover)
    except ValueError:
        return None
    return None if root is None else etree.QName(root).localname


def _feedparser(content: bytes, content_type: str = ""):
    return feedparser.parse(io.BytesIO(content), response_headers={"content-type": content_type or "application/xml"})


def _children(node, name: str):
    return [child for child in node if isinstance(child.tag, str) and etree.QName(child).localname == name]


def _text(node, name: str) -> str | None:
    for child in _children(node, name):
        if child.text and child.text.strip():
            return child.text.strip()
    return None
