"""Render a digest as Markdown, HTML (mail-client safe: inline styles, no scripts) and JSON."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Callable
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.models import Digest, Story

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


@dataclass(frozen=True)
class Labels:
    sources: str
    report: str
    read: str
    kept: str
    removed_clean: str
    removed_sentence: str
    removed_dispatch: str
    removed_history: str
    nothing_new: str
    failures: str
    story: str
    stories: str

    def stories_count(self, n: int) -> str:
        return f"{n} {self.story if n == 1 else self.stories}"


LABELS = {
    "en": Labels(
        sources="Sources",
        report="Run report",
        read="Dispatches read",
        kept="kept",
        removed_clean="Captions, credits and boilerplate removed",
        removed_sentence="Repeated sentences removed",
        removed_dispatch="Duplicate dispatches removed",
        removed_history="Already in an earlier digest",
        nothing_new="Nothing new since the last digest.",
        failures="Failures",
        story="story",
        stories="stories",
    ),
    "fr": Labels(
        sources="Sources",
        report="Rapport d’exécution",
        read="Dépêches lues",
        kept="retenues",
        removed_clean="Légendes, crédits et mentions retirés",
        removed_sentence="Phrases répétées retirées",
        removed_dispatch="Dépêches en double retirées",
        removed_history="Déjà dans un précédent digest",
        nothing_new="Rien de nouveau depuis le dernier digest.",
        failures="Échecs",
        story="sujet",
        stories="sujets",
    ),
}


def digest_language(languages: list[str], default: str) -> str:
    """The language most stories are in, for the digest's labels."""
    counts = Counter(languages)
    return max(sorted(counts), key=counts.__getitem__) if counts else default


def markdown_escape(text: object) -> str:
    return MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def safe_url(url: object) -> str:
    """Only http(s) links reach the reader; anything else (javascript:, data:) is dropped."""
    text = str(url or "").strip()
    return text if urlsplit(text).scheme in {"http", "https"} else ""


def markdown_url(url: object) -> str:
    return safe_url(url).replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def time_span(story: Story) -> str:
    first, last = story.first_published, story.last_published
    if not first:
        return ""
    if first == last:
        return first.strftime("%Y-%m-%d %H:%M") if (first.hour, first.minute) != (0, 0) else first.strftime("%Y-%m-%d")
    return f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M}"


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("tasks", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters.update(md=markdown_escape, mdurl=markdown_url, safe_url=safe_url)
    return env


def _render(template: str, digest: Digest) -> str:
    env = _environment(template.endswith(".html.j2"))
    return env.get_template(template).render(
        title=digest.title,
        day=digest.day.isoformat(),
        language=digest.language,
        labels=LABELS.get(digest.language, LABELS["en"]),
        stories=digest.stories,
        report=digest.report,
        span=time_span,
    )


def subject(digest: Digest) -> str:
    labels = LABELS.get(digest.language, LABELS["en"])
    return f"{digest.title} — {digest.day.isoformat()} — {labels.stories_count(len(digest.stories))}"


def to_markdown(digest: Digest) -> str:
    return re.sub(r"\n{3,}", "\n\n", _render("digest.md.j2", digest))


def to_html(digest: Digest) -> str:
    return _render("digest.html.j2", digest)


def to_plain_text(digest: Digest) -> str:
    """For the text part of an email: the Markdown without escapes."""
    return re.sub(r"\\([\\`*_\[\]<>#|])", r"\1", to_markdown(digest))


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
                    {"id": d.id, "source": d.source, "location": d.location, "url": d.url, "title": d.title,
                     "published": _iso(d.published), "language": d.language}
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
            "removed": {level: report.removed_count(level)
                        for level in ("clean", "paragraph", "sentence", "dispatch", "history")},
            "failures": [asdict(f) for f in report.failures],
            "removals": [asdict(r) for r in report.removals],
        },
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


RENDERERS: dict[str, Callable[[Digest], str]] = {"md": to_markdown, "html": to_html, "json": to_json}


def render(digest: Digest) -> dict[str, str]:
    """Every format, by file extension."""
    return {extension: renderer(digest) for extension, renderer in RENDERERS.items()}


@task(name="render", cache_policy=NO_CACHE)
def render_task(digest: Digest) -> dict[str, str]:
    return render(digest)
