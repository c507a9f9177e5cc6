"""Render a digest as Markdown, HTML (mail-client safe: inline styles, no scripts) and JSON; and the
archive of the digests: an index page and an Atom feed."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import cast
from urllib.parse import quote, urlsplit, urlunsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from tasks.models import Attribution, Digest, Story, outlet_key

# Every line break a Markdown, mail or terminal reader knows: in a field it would start a forged story.
LINE_BREAK = re.compile(r"\s*[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]\s*")
# C0 and C1 controls, DEL and the bidirectional overrides (which reorder what a reader sees).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
# &lt; or &#60; would show as another character in Markdown, even in a link target.
ENTITY_REFERENCE = re.compile(r"&(?=#?\w+;)")
# What makes Markdown structure anywhere in a line: emphasis, code, links, raw HTML, headings, tables, strikethrough.
MARKDOWN_INLINE = re.compile(rf"[\\`*_\[\]<>#|~]|{ENTITY_REFERENCE.pattern}")
# What makes a block at the start of a field that follows a list marker: a nested list (`- `, `+ `, `1. `, `1) `)
# or a rule (`---`); its last character is escaped.
MARKDOWN_LIST_MARKER = re.compile(r"^(?:[-+]|\d+[.)](?=\s|$))")
MARKDOWN_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark's escapes: a backslash before ASCII punctuation
# RFC 3986's sub-delimiters and `:@%`, less the quote and parentheses, which end an attribute or a Markdown link.
URL_SAFE = "!$&*+,;=:@%"
STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What XML 1.0 cannot hold, even as a character reference: a feed with one is not parsed at all.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Labels:
    """Every word of the digest that is not from a dispatch; `[digest.labels]` overrides them."""

    contents: str
    sources: str
    report: str
    read: str
    kept: str
    removed_clean: str
    removed_sentence: str
    removed_dispatch: str
    removed_shared: str
    removed_history: str
    left_out_language: str
    nothing_new: str
    failures: str
    story: str
    stories: str
    also_today: str
    view_online: str
    archive: str
    feed: str

    def stories_count(self, n: int) -> str:
        return f"{n} {self.story if n == 1 else self.stories}"


LABELS = {
    "en": Labels(
        contents="Contents",
        sources="Sources",
        report="Run report",
        read="Dispatches read",
        kept="kept",
        removed_clean="Captions, credits and boilerplate removed",
        removed_sentence="Repeated sentences removed",
        removed_dispatch="Duplicate dispatches removed",
        removed_shared="Paragraphs two outlets of a story carried, said once",
        removed_history="Already in an earlier digest",
        left_out_language="Left out, language not in cleaning.languages",
        nothing_new="Nothing new since the last digest.",
        failures="Failures",
        story="story",
        stories="stories",
        also_today="Also today",
        view_online="View this digest online",
        archive="Archive",
        feed="Atom feed",
    ),
    "fr": Labels(
        contents="Sommaire",
        sources="Sources",
        report="Rapport d’exécution",
        read="Dépêches lues",
        kept="retenues",
        removed_clean="Légendes, crédits et mentions retirés",
        removed_sentence="Phrases répétées retirées",
        removed_dispatch="Dépêches en double retirées",
        removed_shared="Paragraphes communs à deux médias d’un sujet, dits une fois",
        removed_history="Déjà dans un précédent digest",
        left_out_language="Écartées, langue absente de cleaning.languages",
        nothing_new="Rien de nouveau depuis le dernier digest.",
        failures="Échecs",
        story="sujet",
        stories="sujets",
        also_today="Aussi aujourd’hui",
        view_online="Voir ce digest en ligne",
        archive="Archives",
        feed="Flux Atom",
    ),
}
LABEL_KEYS = tuple(f.name for f in fields(Labels))
TOC_MIN_STORIES = 6  # a table of contents helps once the digest no longer fits a screen


def labels_for(language: str, overrides: Mapping[str, str] | None = None) -> Labels:
    """The labels of `language` (English when there are none for it), with the configured overrides."""
    return replace(LABELS.get(language, LABELS["en"]), **(overrides or {}))


def digest_language(languages: list[str], default: str) -> str:
    """The language most stories are in, for the digest's labels."""
    counts = Counter(languages)
    return max(sorted(counts), key=counts.__getitem__) if counts else default


def visible(text: object) -> str:
    """`text` with its control characters shown as escapes (\\x1b): a reader sees them, a terminal does not obey them."""
    return CONTROL.sub(lambda control: control[0].encode("unicode_escape").decode("ascii"), str(text))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """The count and its noun for a user to read: "1 source", "2 sources", "0 failures" (`nouns`: an irregular plural)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def one_line(text: object) -> str:
    """A field of the digest (title, outlet, file name, sentence...) on one line, its control characters visible."""
    return visible(LINE_BREAK.sub(" ", str(text)).replace("\t", " ").strip())


def markdown_escape(text: object) -> str:
    """One line that Markdown shows as it is: no heading, list, link, HTML, code or emphasis of its own."""
    escaped = MARKDOWN_INLINE.sub(r"\\\g<0>", one_line(text))
    return MARKDOWN_LIST_MARKER.sub(lambda marker: f"{marker[0][:-1]}\\{marker[0][-1]}", escaped)


def _percent_encoded(part: str, safe: str) -> str:
    """`part` with every character outside the URL-safe set percent-encoded; its own %XX escapes kept."""
    return quote(STRAY_PERCENT.sub("%25", part), safe=URL_SAFE + safe)


def safe_url(url: object) -> str:
    """An http(s) link, percent-encoded so that no quote, bracket or space in it ends the link or the line;
    anything else (javascript:, data:, an unparsable host) is dropped. Tabs and line breaks are dropped,
    as browsers drop them."""
    try:
        parts = urlsplit(str(url or "").strip())
    except ValueError:  # an unbalanced [ in the host
        return ""
    if parts.scheme not in {"http", "https"}:
        return ""
    return urlunsplit(
        (
            parts.scheme,
            _percent_encoded(parts.netloc, "[]"),
            _percent_encoded(parts.path, "/"),
            _percent_encoded(parts.query, "/?"),
            _percent_encoded(parts.fragment, "/?"),
        )
    )


def markdown_url(url: object) -> str:
    """`safe_url` as a Markdown link target, where `&lt;` would be decoded: the link goes where the HTML one goes."""
    return ENTITY_REFERENCE.sub(r"\\&", safe_url(url))


def once_per_outlet(attributions: tuple[Attribution, ...]) -> list[Attribution]:
    """The first attribution of each outlet: two dispatches of one site that said a sentence cite it once."""
    first: dict[str, Attribution] = {}
    for attribution in attributions:
        first.setdefault(outlet_key(attribution.source), attribution)
    return list(first.values())


def story_link(story: Story) -> str:
    """Where a reader can read a story listed by its headline alone: its earliest dispatch with a web address."""
    return next((cast(str, d.url) for d in story.dispatches if safe_url(d.url)), "")  # safe_url(None) is ""


def time_span(story: Story) -> str:
    """When the story's dispatches were published; the day is not repeated for a same-day span."""
    first, last = story.first_published, story.last_published
    if not first:
        return ""
    if first == last:
        return first.strftime("%Y-%m-%d %H:%M") if (first.hour, first.minute) != (0, 0) else first.strftime("%Y-%m-%d")
    # `last` is dated when `first` is (the latest of the same dispatches' times).
    end = f"{last:%H:%M}" if cast(datetime, last).date() == first.date() else f"{last:%Y-%m-%d %H:%M}"
    return f"{first:%Y-%m-%d %H:%M} – {end}"


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("tasks", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
        finalize=one_line,  # every field reaches the digest on one line
    )
    env.filters.update(md=markdown_escape, mdurl=markdown_url, safe_url=safe_url, once_per_outlet=once_per_outlet)
    return env


def _render(
    template: str, digest: Digest, labels: Labels | None, anchors: bool = True, online: str | None = None
) -> str:
    env = _environment(template.endswith(".html.j2"))
    shown = digest.stories[: digest.max_stories]
    return env.get_template(template).render(
        title=digest.title,
        day=digest.day.isoformat(),
        language=digest.language,
        labels=labels or labels_for(digest.language),
        total=len(digest.stories),
        stories=shown,
        also=digest.stories[digest.max_stories :],
        report=digest.report,
        span=time_span,
        link=story_link,
        toc=len(shown) >= TOC_MIN_STORIES,
        anchors=anchors,
        online=safe_url(online),
    )


def subject(digest: Digest, labels: Labels | None = None) -> str:
    labels = labels or labels_for(digest.language)
    return one_line(f"{digest.title} — {digest.day.isoformat()} — {labels.stories_count(len(digest.stories))}")


def to_markdown(digest: Digest, labels: Labels | None = None, anchors: bool = True, online: str | None = None) -> str:
    """`online`: the address of the digest's published page, linked under the title (for an email)."""
    return re.sub(r"\n{3,}", "\n\n", _render("digest.md.j2", digest, labels, anchors, online))


def to_html(digest: Digest, labels: Labels | None = None, online: str | None = None) -> str:
    return _render("digest.html.j2", digest, labels, online=online)


def to_plain_text(digest: Digest, labels: Labels | None = None, online: str | None = None) -> str:
    """For the text part of an email: the Markdown without escapes, nor anchors a mail reader would show."""
    return MARKDOWN_ESCAPED.sub(r"\1", to_markdown(digest, labels, anchors=False, online=online))


def page_url(public_url: str | None, day: str) -> str | None:
    """Where the digest of `day` (YYYY-MM-DD) is published under `digest.public_url`; None when unset."""
    return f"{public_url.rstrip('/')}/{day}.html" if public_url else None


@dataclass(frozen=True)
class ArchiveEntry:
    """One day of the archive, as its files on disk say."""

    day: str  # YYYY-MM-DD
    title: str
    language: str
    stories: int
    lead: str  # the first story's headline; "" when there is none
    updated: datetime  # its latest dispatch time (see tasks.output): the same on a re-run
    body: str | None  # what the digest's HTML page shows (its <body>); None: not in the feed


def _archive_words(
    entries: list[ArchiveEntry], language: str, overrides: Mapping[str, str] | None
) -> dict[str, object]:
    """The archive's own labels (`language`; "auto": the newest digest's) and each day's story count in
    its digest's language: a day in English does not turn the French days' counts into English."""
    if language == "auto":
        language = entries[0].language if entries else "en"
    return {
        "language": language,
        "labels": labels_for(language, overrides),
        "count": lambda e: labels_for(e.language, overrides).stories_count(e.stories),
    }


def to_archive_html(
    entries: list[ArchiveEntry], title: str, language: str, overrides: Mapping[str, str] | None = None
) -> str:
    """The archive's index page: the days, newest first, each linked to its page (relative links)."""
    return (
        _environment(True)
        .get_template("archive.html.j2")
        .render(title=title, entries=entries, **_archive_words(entries, language, overrides))
    )


def to_atom(
    entries: list[ArchiveEntry],
    title: str,
    language: str,
    public_url: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """An Atom 1.0 feed of `entries`, each with its digest's HTML as content. With `public_url`, links
    and ids are that site's addresses; without, links are relative to the feed and ids are URNs drawn
    from the title and the day (the same on every run)."""
    base = safe_url(public_url).rstrip("/") + "/" if public_url else ""
    identity = public_url or f"dispatch-digest:{title}"

    def urn(name: str) -> str:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{identity}:{name}").urn

    env = Environment(
        loader=PackageLoader("tasks", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        finalize=lambda value: NOT_XML.sub("", str(value)),
    )
    env.filters.update(one_line=one_line)
    words = _archive_words(entries, language, overrides)
    entries = [e for e in entries if e.body is not None]
    updated = max((e.updated for e in entries), default=datetime.now(UTC))
    return env.get_template("feed.xml.j2").render(
        title=title,
        entries=entries,
        updated=_atom_time(updated),
        **words,
        feed_id=f"{base}feed.xml" if public_url else urn("feed"),
        self_url=f"{base}feed.xml" if public_url else "",
        index_url=f"{base}index.html",
        link=lambda e: f"{base}{e.day}.html",
        entry_id=lambda e: f"{base}{e.day}.html" if public_url else urn(e.day),
        time=_atom_time,
    )


def _atom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def to_json(digest: Digest) -> str:
    report = digest.report
    data = {
        "date": digest.day.isoformat(),
        "title": digest.title,
        "language": digest.language,
        "stories": [
            {
                "id": s.story.id,
                "headline": s.story.headline,
                "importance": s.story.importance,
                "first_published": _iso(s.story.first_published),
                "last_published": _iso(s.story.last_published),
                "sources": s.story.sources,
                "dispatches": [
                    {
                        "id": d.id,
                        "source": d.source,
                        "location": d.location,
                        "url": d.url,
                        "title": d.title,
                        "published": _iso(d.published),
                        "language": d.language,
                    }
                    for d in s.story.dispatches
                ],
                "summary": [
                    {"text": sentence.text, "from": [asdict(a) for a in sentence.attributions]}
                    for sentence in s.sentences
                ],
            }
            for s in digest.stories
        ],
        "report": {
            "dispatches_read": report.dispatches_read,
            "dispatches_kept": report.dispatches_kept,
            "removed": {
                level: report.removed_count(level)
                for level in ("clean", "paragraph", "sentence", "dispatch", "story", "history")
            },
            "failures": [asdict(f) for f in report.failures],
            "removals": [asdict(r) for r in report.removals],
        },
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def render(digest: Digest, labels: Labels | None = None) -> dict[str, str]:
    """Every format, by file extension."""
    return {"md": to_markdown(digest, labels), "html": to_html(digest, labels), "json": to_json(digest)}
