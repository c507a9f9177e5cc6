"""`digest sources import FILE.opml`: the feeds of an OPML subscription list, appended to the config.

The config is never re-serialised: its text, comments included, is kept as it is and one
`[[sources]]` table a feed is appended. The result is loaded with the same rules as `digest run`
before it replaces the file (atomically: a temporary file in the same folder, then a rename).

OPML is read with the standard library's parser, through defusedxml when it is installed; either
way a document type declaration (DTD) or an entity declaration is refused: a subscription list
needs neither, and they are how XML bombs and external entities get in.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

from flows.settings import ConfigError, _read, load_settings
from tasks.errors import DigestError
from tasks.output import staged

MAX_BYTES = 10_000_000  # a subscription list of thousands of feeds is well under 1 MB


class OpmlError(DigestError):
    """An OPML file that cannot be read; the message names the file and says why, on one line."""


@dataclass(frozen=True)
class Feed:
    name: str
    url: str
    category: str = ""  # the titles of the outlines it is nested in, joined with " / "


@dataclass
class Imported:
    added: list[Feed] = field(default_factory=list)
    skipped: list[tuple[Feed, str]] = field(default_factory=list)  # (feed, why)
    text: str = ""  # the config's new text


def read_opml(path: Path) -> list[Feed]:
    """Every outline with an xmlUrl, in document order, however deeply nested in categories."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise OpmlError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise OpmlError(f"{path}: over {MAX_BYTES // 1_000_000} MB, too large for a subscription list")
    root = _parse(path, data)
    if _local(root.tag) != "opml":
        raise OpmlError(f"{path}: not an OPML file: its root element is <{_local(root.tag)}>, not <opml>")
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise OpmlError(f"{path}: not an OPML file: <opml> has no <body>")
    feeds: list[Feed] = []
    _walk(body, (), feeds)
    return feeds


def _parse(path: Path, data: bytes) -> ElementTree.Element:
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring as defused_fromstring
    except ImportError:
        return _parse_without_dtd(path, data)
    try:
        return defused_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise OpmlError(
            f"{path}: not read: it declares a DTD or entities, which a subscription list does not "
            "need (remove the <!DOCTYPE ...> line)"
        ) from None
    except ElementTree.ParseError as exc:
        raise OpmlError(f"{path}: not well-formed XML: {exc}") from None


def _parse_without_dtd(path: Path, data: bytes) -> ElementTree.Element:
    """The standard library's parser, after a first pass of expat that stops at a DTD before any of it is used."""
    from xml.parsers import expat

    def refuse(*_args) -> None:
        raise OpmlError(
            f"{path}: not read: it declares a DTD or entities, which a subscription list does not "
            "need (remove the <!DOCTYPE ...> line)"
        )

    scan = expat.ParserCreate()
    scan.StartDoctypeDeclHandler = scan.EntityDeclHandler = refuse
    try:
        scan.Parse(data, True)
        return ElementTree.fromstring(data)
    except (expat.ExpatError, ElementTree.ParseError) as exc:
        raise OpmlError(f"{path}: not well-formed XML: {exc}") from None


def _local(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def _walk(element: ElementTree.Element, categories: tuple[str, ...], feeds: list[Feed]) -> None:
    for outline in element:
        if _local(outline.tag) != "outline":
            continue
        attributes = {name.lower(): value for name, value in outline.attrib.items()}
        title = _clean(attributes.get("title") or attributes.get("text") or "")
        url = (attributes.get("xmlurl") or "").strip()
        if url:
            feeds.append(Feed(title, url, " / ".join(categories)))
        _walk(outline, (*categories, title) if title and not url else categories, feeds)


def _clean(text: str) -> str:
    """A name on one line: control characters dropped, runs of spaces made one."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def import_feeds(config: Path, opml: Path) -> Imported:
    """The config's text with the OPML's new feeds appended (nothing written): feeds whose URL the
    config (or an earlier outline) already has are skipped, with why; names are made unique."""
    feeds = read_opml(opml)
    _read(config, "configuration")  # the same errors as a run's (no file, not UTF-8, a BOM)
    text = config.read_bytes().decode("utf-8")  # as it is: read_text would turn CRLF line ends into LF
    newline = "\r\n" if "\r\n" in text else "\n"
    try:
        existing = tomllib.loads(text).get("sources", [])
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config}: not valid TOML: {exc}") from None
    existing = [s for s in existing if isinstance(s, dict)] if isinstance(existing, list) else []
    names = {str(s.get("name", "")).casefold() for s in existing}
    known = {
        _same(url): str(s.get("name", ""))
        for s in existing
        for url in [s.get("url"), *(s.get("urls") or [])]
        if isinstance(url, str)
    }
    result = Imported()
    tables = []
    for feed in feeds:
        parts = urlsplit(feed.url)
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            result.skipped.append((feed, "not an http(s) URL"))
            continue
        if _same(feed.url) in known:
            result.skipped.append((feed, f'already in the config as "{known[_same(feed.url)]}"'))
            continue
        name = _unique(feed.name or parts.hostname, names)
        names.add(name.casefold())
        known[_same(feed.url)] = name
        added = Feed(name, feed.url, feed.category)
        result.added.append(added)
        comment = f"# from {opml.name}" + (f", {feed.category}" if feed.category else "")
        tables.append(
            f'{_comment(comment)}\n[[sources]]\nname = {_toml_string(name)}\nkind = "feed"\n'
            f"url = {_toml_string(feed.url)}\n"
        )
    if tables:
        text = (text if text.endswith("\n") or not text else text + newline) + newline
        text += "\n".join(tables).replace("\n", newline)
    result.text = text
    return result


def _same(url: str) -> str:
    """A URL as compared for "already in the config": scheme and host are case-blind, a trailing slash ignored."""
    parts = urlsplit(url.strip())
    return parts._replace(
        scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), path=parts.path.rstrip("/")
    ).geturl()


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`, `name (3)`... the first the config does not have (names compared case-blind)."""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but DEL must be escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _comment(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)


def write_config(config: Path, text: str) -> None:
    """Validate `text` as the config (the same rules as `digest run`), then replace the file atomically.
    Raises ConfigError with the problems, leaving the file as it was."""
    target = config.resolve()  # its folder: relative paths resolve the same, and the rename is atomic
    temporary = staged(target, text, config.stat().st_mode & 0o7777)
    try:
        try:
            load_settings(temporary)
        except ConfigError as exc:  # its lines name the file the user knows
            raise ConfigError(*(problem.replace(temporary, str(config)) for problem in exc.problems)) from None
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
