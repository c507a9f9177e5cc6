"""The small dataclasses every stage speaks.

Data walks one way: RawDispatch -> Dispatch -> Story -> StorySummary -> Digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class RawDispatch:
    """A dispatch as loaded or fetched, before any cleaning."""

    source: str  # the configured source's name
    location: str  # file path or URL: where the user can find it again
    body: str
    kind: str  # "text" or "html"
    outlet: str | None = None  # who published it, when the dispatch says
    title: str | None = None
    published: datetime | None = None  # always time-zone aware (see parse_datetime)
    url: str | None = None


@dataclass(frozen=True)
class Block:
    """A paragraph of sentences, or a heading (never summarised)."""

    sentences: tuple[str, ...]
    heading: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


@dataclass(frozen=True)
class Attribution:
    dispatch_id: str
    source: str
    location: str
    url: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Dispatch:
    """A cleaned dispatch; id is the fingerprint of its normalised text."""

    id: str
    source: str  # the outlet readers see: the dispatch's own, the page's site name, else the source's name
    location: str
    blocks: tuple[Block, ...]
    language: str
    title: str | None = None
    published: datetime | None = None  # always time-zone aware (see parse_datetime)
    url: str | None = None
    copies: tuple[Attribution, ...] = ()  # the same dispatch as carried by other feeds or URLs

    @property
    def attribution(self) -> Attribution:
        return Attribution(self.id, self.source, self.location, self.url, self.title)

    @property
    def carriers(self) -> tuple[Attribution, ...]:
        """This dispatch and every copy of it that de-duplication folded in."""
        return (self.attribution, *self.copies)

    @property
    def sentences(self) -> list[str]:
        return [s for b in self.blocks if not b.heading for s in b.sentences]

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks if not b.heading)


@dataclass(frozen=True)
class Removal:
    """Something dropped, and why: the run report lists every one."""

    level: str  # "clean", "language", "sentence", "paragraph", "dispatch", "story", "history"
    dispatch_id: str
    source: str
    text: str
    reason: str
    score: float = 1.0
    kept: str | None = None  # what it duplicated, when it is a duplicate


@dataclass(frozen=True)
class Failure:
    """A source or an item that could not be read, with the reason."""

    source: str
    location: str
    reason: str


def outlet_key(name: str) -> str:
    """What makes two outlet names one publisher: "Reuters" and "REUTERS " are one."""
    return " ".join(name.casefold().split())


@dataclass(frozen=True)
class Story:
    id: int
    dispatches: tuple[Dispatch, ...]
    headline: str
    importance: float

    @property
    def sources(self) -> list[str]:
        """The story's outlets, each once (by `outlet_key`), as the earliest dispatch names it."""
        named: dict[str, str] = {}
        for attribution in (a for d in self.dispatches for a in d.carriers):
            named.setdefault(outlet_key(attribution.source), attribution.source)
        return sorted(named.values())

    @property
    def first_published(self) -> datetime | None:
        times = [d.published for d in self.dispatches if d.published]
        return min(times) if times else None

    @property
    def last_published(self) -> datetime | None:
        times = [d.published for d in self.dispatches if d.published]
        return max(times) if times else None


@dataclass(frozen=True)
class SummarySentence:
    text: str
    attributions: tuple[Attribution, ...]


@dataclass(frozen=True)
class StorySummary:
    story: Story
    sentences: tuple[SummarySentence, ...]


# The reason of a dispatch left out for its language, followed by ": <language code>".
LANGUAGE_LEFT_OUT = "language not in cleaning.languages"


@dataclass(frozen=True)
class RunReport:
    """What a run read and kept, what it removed and why, and what it could not read: assembled once by
    the flow from what its stages returned."""

    dispatches_read: int = 0
    dispatches_kept: int = 0
    failures: Sequence[Failure] = ()
    removals: Sequence[Removal] = ()

    def removed_count(self, level: str) -> int:
        return sum(1 for r in self.removals if r.level == level)

    def languages_left_out(self) -> str:
        """ "ru 3, pt 2": how many dispatches were left out for each language, most first."""
        counts = Counter(
            r.reason.removeprefix(f"{LANGUAGE_LEFT_OUT}: ") for r in self.removals if r.level == "language"
        )
        return ", ".join(f"{code} {n}" for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


MAX_STORIES = 30  # a long day's digest stays readable: the first 30 stories in full


@dataclass
class Digest:
    day: date
    title: str
    language: str
    stories: list[StorySummary]
    report: RunReport
    max_stories: int = MAX_STORIES  # shown in full; the others are listed by headline ("Also today")


def parse_datetime(value: object) -> datetime | None:
    """An ISO 8601 date or time from metadata, UTC when it names no zone; None when unreadable."""
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
