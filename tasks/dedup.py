"""De-duplication: a sentence or paragraph said again inside a dispatch.

A sentence is a repeat when most of its word shingles (runs of stems) were
already said earlier in the dispatch: containment, not equality, so a restated
clause ("relançant la possibilité…" / "Ces échanges relancent la possibilité…")
is caught. A sentence carrying a number that was not said before is new
information and is always kept.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict, Field
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.language import LanguageBundle, bundle
from tasks.models import Block, Dispatch, Removal

NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
MIN_CONTENT_WORDS = 5  # below this, sharing words says little: only shingles count


class DedupOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shingle_size: int = Field(3, ge=1, le=8)
    containment: float = Field(0.7, gt=0, le=1, description="share of a sentence's shingles already said")
    word_containment: float = Field(
        0.85, gt=0, le=1, description="share of a sentence's content words said by one earlier sentence (reworded)"
    )


@dataclass(frozen=True)
class Signature:
    """What a sentence says, for comparison: shingles of stems, content stems, numbers."""

    text: str
    shingles: frozenset[tuple[str, ...]]
    content: frozenset[str]
    numbers: frozenset[str]


def shingles(tokens: list[str], size: int) -> set[tuple[str, ...]]:
    """Runs of `size` tokens; a sentence shorter than that is one shingle."""
    if len(tokens) <= size:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def numbers(text: str) -> frozenset[str]:
    return frozenset(n.replace(",", ".") for n in NUMBER_RE.findall(text))


def signature(text: str, lang: LanguageBundle, size: int) -> Signature:
    stems = lang.stems(text)
    content = frozenset(
        stem for word, stem in zip(lang.words(text), stems) if word.lower() not in lang.stop_words
    )
    return Signature(text, frozenset(shingles(stems, size)), content, numbers(text))


def word_containment(new: Signature, old: Signature) -> float:
    """Share of `new`'s content words that `old` has; 0 for sentences too short to judge."""
    if len(new.content) < MIN_CONTENT_WORDS:
        return 0.0
    return len(new.content & old.content) / len(new.content)


def repeat_score(new: Signature, old: Signature, options: DedupOptions) -> float:
    """How much `new` repeats `old`, scaled so that 1.0 is the threshold of a repeat; 0 if it adds a number."""
    if not new.shingles or not new.numbers <= old.numbers:
        return 0.0
    by_shingles = len(new.shingles & old.shingles) / len(new.shingles) / options.containment
    return max(by_shingles, word_containment(new, old) / options.word_containment)


def says_same(a: Signature, b: Signature, options: DedupOptions) -> bool:
    """Either sentence is a repeat of the other: a shorter one said inside a longer one counts."""
    return repeat_score(a, b, options) >= 1 or repeat_score(b, a, options) >= 1


class SeenText:
    """What a dispatch has said so far, to measure how much of a new sentence is repeated."""

    def __init__(self, lang: LanguageBundle, options: DedupOptions):
        self._lang, self._options = lang, options
        self._owner: dict[tuple[str, ...], int] = {}
        self._by_word: dict[str, list[int]] = {}
        self.said: list[Signature] = []
        self._numbers: set[str] = set()

    def repeat_of(self, text: str) -> tuple[float, str | None, Signature]:
        """(score, the earlier sentence it repeats most, its signature); score >= 1 is a repeat.

        Shingles are counted against everything said before (a clause restated from
        two sentences is still a repeat); reworded content against one sentence at a time.
        """
        new = signature(text, self._lang, self._options.shingle_size)
        if not new.shingles or not new.numbers <= self._numbers:
            return 0.0, None, new
        owners = Counter(self._owner[g] for g in new.shingles if g in self._owner)
        shingle_score = sum(owners.values()) / len(new.shingles) / self._options.containment
        candidates = Counter(i for w in new.content for i in self._by_word.get(w, ()))
        best_by_words, words_score = None, 0.0
        for index, _ in candidates.most_common(5):
            score = repeat_score(new, self.said[index], self._options)
            if score > words_score:
                best_by_words, words_score = index, score
        if shingle_score >= words_score and owners:
            return shingle_score, self.said[owners.most_common(1)[0][0]].text, new
        if best_by_words is None:
            return 0.0, None, new
        return words_score, self.said[best_by_words].text, new

    def add(self, sentence: Signature) -> None:
        index = len(self.said)
        self.said.append(sentence)
        self._numbers |= sentence.numbers
        for gram in sentence.shingles:
            self._owner.setdefault(gram, index)
        for word in sentence.content:
            self._by_word.setdefault(word, []).append(index)


def dedup_within(dispatch: Dispatch, options: DedupOptions) -> tuple[Dispatch, list[Removal]]:
    """The dispatch without sentences and paragraphs it already said, and what was removed."""
    seen = SeenText(bundle(dispatch.language), options)
    seen_paragraphs: set[str] = set()
    blocks: list[Block] = []
    removals: list[Removal] = []

    def removal(level: str, text: str, reason: str, score: float, kept: str | None) -> Removal:
        return Removal(level, dispatch.id, dispatch.source, text, reason, round(score, 3), kept)

    for block in dispatch.blocks:
        key = block.text.casefold()
        if key in seen_paragraphs:
            removals.append(removal("paragraph", block.text, "paragraph repeated", 1.0, block.text))
            continue
        seen_paragraphs.add(key)
        if block.heading:
            blocks.append(block)
            continue
        kept: list[str] = []
        for sentence in block.sentences:
            score, earlier, said = seen.repeat_of(sentence)
            if score >= 1:
                removals.append(removal("sentence", sentence, "already said in this dispatch", score, earlier))
                continue
            seen.add(said)
            kept.append(sentence)
        if kept:
            blocks.append(Block(tuple(kept)))
    return replace(dispatch, blocks=tuple(blocks)), removals


@task(name="dedup", cache_policy=NO_CACHE)
def dedup_batch(dispatches: list[Dispatch], options: DedupOptions) -> tuple[list[Dispatch], list[Removal]]:
    kept, removals = [], []
    for dispatch in dispatches:
        cleaned, removed = dedup_within(dispatch, options)
        kept.append(cleaned)
        removals.extend(removed)
    return kept, removals
