"""Parse RSS/Atom feeds (feedparser) and XML sitemaps (lxml, no entities, no network)."""

from __future__ import annotations

import gzip
import io
from calendar import timegm
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser
from lxml import etree

from tasks.models import parse_datetime


class NotAFeed(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    """A feed entry or a sitemap URL: where the article is, and what the listing says of it."""

    url: str
    title: str | None = None
    published: datetime | None = None
    content: str | None = None  # the entry's own HTML, when the feed carries it


def parse_feed(content: bytes, base_url: str, content_type: str = "") -> list[Entry]:
    """Entries with links made absolute against the feed's URL."""
    parsed = feedparser.parse(io.BytesIO(content), response_headers={"content-type": content_type or "application/xml"})
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
    return root in {"rss", "feed", "RDF"}


def looks_like_sitemap(content: bytes) -> bool:
    return _root_name(content) in {"urlset", "sitemapindex"}


def parse_sitemap(content: bytes, max_bytes: int) -> tuple[list[str], list[Entry]]:
    """(child sitemaps of an index, article entries of a URL set); news sitemaps give titles and dates."""
    root = _parse_xml(_gunzip(content, max_bytes))
    name = etree.QName(root).localname
    if name == "sitemapindex":
        return [loc for loc in (_text(s, "loc") for s in _children(root, "sitemap")) if loc], []
    if name != "urlset":
        raise ValueError(f"not a sitemap: root element <{name}>")
    entries = []
    for node in _children(root, "url"):
        loc = _text(node, "loc")
        if not loc:
            continue
        news = next((n for n in node if etree.QName(n).localname == "news"), None)
        published = _text(news, "publication_date") if news is not None else None
        title = _text(news, "title") if news is not None else None
        entries.append(Entry(url=loc, title=title, published=parse_datetime(published or _text(node, "lastmod"))))
    return [], entries


def _gunzip(content: bytes, max_bytes: int) -> bytes:
    if content[:2] != b"\x1f\x8b":
        return content
    with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"sitemap over the {max_bytes} byte cap once decompressed")
    return data


def _parse_xml(content: bytes):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False, huge_tree=False)
    try:
        return etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from None


def _root_name(content: bytes) -> str | None:
    try:
        return etree.QName(_parse_xml(content.strip())).localname
    except ValueError:
        return None


def _children(node, name: str):
    return [child for child in node if isinstance(child.tag, str) and etree.QName(child).localname == name]


def _text(node, name: str) -> str | None:
    for child in _children(node, name):
        if child.text and child.text.strip():
            return child.text.strip()
    return None
