"""De-duplication: a sentence or paragraph said again inside a dispatch, the same
dispatch carried by two feeds or URLs, and wire copy two outlets of a story share.

Within a dispatch, a sentence is a repeat when most of its word shingles (runs of stems) were
already said earlier in the dispatch: containment, not equality, so a restated
clause ("relançant la possibilité…" / "Ces échanges relancent la possibilité…")
is caught, and so is a clause restated after a connective ("Thus, …"). A sentence carrying a number
that was not said before is new information and is always kept. Scraped text runs sentences together
(glued, a quotation mark left open): a repeat inside what the splitter gave as one sentence is cut
where its own sentence ends (`without_repeats`), the rest kept.

Across dispatches, documents are compared by word 5-shingles: MinHash signatures
and banding find candidate pairs in linear time, then the exact share of the
shorter document's shingles found in the longer one decides. A second signature
over each dispatch's opening finds a version cut short: editors cut news from the
bottom, so a short version shares its opening with the long one even when it is a
small part of it. A shorter version
inside a longer one, or the same text under another headline, is one dispatch:
the longest copy is kept and records every source that carried it.

Within a story (after clustering), a paragraph an earlier dispatch of another outlet
carried is recorded as wire copy (`shared_paragraphs`).
"""

from __future__ import annotations

import heapq
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tasks.language import TOKEN_RE, LanguageBundle, bundle, words
from tasks.models import Attribution, Block, Dispatch, Removal, Story

NUMBER_RE = re.compile(r"\d+(?: ?[.,]\d+)*")  # scraped text may space a figure's comma: `30 ,000`
MIN_CONTENT_WORDS = 5  # below this, sharing words says little: only shingles count
WITHIN = ("sentence", "paragraph")  # levels of the repeats found inside one dispatch
CONNECTIVE_WORDS = 5  # "According to the same source," opening a clause said before
CLAUSE_MIN_WORDS = 6
RESTATED_MIN_SCORE = 0.5  # the least a restated clause scores whole: 5 connective words, 6 said, 4 of 9 shingles
PART_MIN_WORDS = 5  # a repeat cut from inside a longer sentence is a sentence of this many words at least
CUT_REASON = "already said in this dispatch; cut where a sentence ends inside a longer one (text run together)"
SHARED_MIN_WORDS = 8  # a shorter paragraph shared by two outlets is a stock phrase more than wire copy


class DedupOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shingle_size: int = Field(3, ge=1, le=8)
    containment: float = Field(0.7, gt=0, le=1, description="share of a sentence's shingles already said")
    word_containment: float = Field(
        0.85, gt=0, le=1, description="share of a sentence's content words said by one earlier sentence (reworded)"
    )
    document_containment: float = Field(
        0.8, gt=0, le=1, description="share of a dispatch's 5-shingles found in another for it to be the same dispatch"
    )


@dataclass(frozen=True)
class Signature:
    """What a sentence says, for comparison: shingles of stems, content stems, numbers."""

    text: str
    shingles: frozenset[tuple[str, ...]]
    content: frozenset[str]
    numbers: frozenset[str]
    last: tuple[str, ...] = ()  # its last shingle: where it ends


def shingles(tokens: list[str], size: int) -> set[tuple[str, ...]]:
    """Runs of `size` tokens; a sentence shorter than that is one shingle."""
    if len(tokens) <= size:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def numbers(text: str) -> frozenset[str]:
    return frozenset(n.replace(" ", "").replace(",", ".") for n in NUMBER_RE.findall(text))


def signature(text: str, lang: LanguageBundle, size: int) -> Signature:
    tokens = lang.words(text)
    stems = lang.stems_of(tokens)
    content = frozenset(stem for word, stem in zip(tokens, stems) if word.lower() not in lang.stop_words)
    return Signature(text, frozenset(shingles(stems, size)), content, numbers(text), tuple(stems[-size:]))


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


def most_common(counts: Counter[int], n: int | None = None) -> list[tuple[int, int]]:
    """The `n` commonest of `counts` (all when None), the earliest (smallest key) first on a tie. Counter's own
    order on a tie is the order of insertion, which follows a set's iteration order: it changes with the
    process's hash seed, and the removal it names (`kept`) changed between two runs of the same day."""
    return heapq.nsmallest(len(counts) if n is None else n, counts.items(), key=lambda item: (-item[1], item[0]))


def says_same(a: Signature, b: Signature, options: DedupOptions) -> bool:
    """Either sentence is a repeat of the other: a shorter one said inside a longer one counts."""
    return repeat_score(a, b, options) >= 1 or repeat_score(b, a, options) >= 1


class SeenText:
    """What a dispatch has said so far, to measure how much of a new sentence is repeated."""

    def __init__(self, lang: LanguageBundle, options: DedupOptions):
        self.lang, self._options = lang, options
        self._owner: dict[tuple[str, ...], int] = {}
        self._by_word: dict[str, list[int]] = {}
        self.said: list[Signature] = []
        self._numbers: set[str] = set()
        self._ends: set[tuple[str, ...]] = set()  # the last shingle of each sentence said

    def repeat_of(self, text: str) -> tuple[float, str | None, Signature]:
        """(score, the earlier sentence it repeats most, its signature); score >= 1 is a repeat.

        Shingles are counted against everything said before (a clause restated from
        two sentences is still a repeat); reworded content against one sentence at a time.
        """
        new = self.signature(text)
        if not new.shingles or not new.numbers <= self._numbers:
            return 0.0, None, new
        owners = Counter(self._owner[g] for g in new.shingles if g in self._owner)
        shingle_score = sum(owners.values()) / len(new.shingles) / self._options.containment
        candidates = Counter(i for w in new.content for i in self._by_word.get(w, ()))
        best_by_words, words_score = None, 0.0
        for index, _ in most_common(candidates, 5):
            score = repeat_score(new, self.said[index], self._options)
            if score > words_score:
                best_by_words, words_score = index, score
        if shingle_score >= words_score and owners:
            return shingle_score, self.said[most_common(owners, 1)[0][0]].text, new
        if best_by_words is None:
            return 0.0, None, new
        return words_score, self.said[best_by_words].text, new

    def restated_clause(self, text: str) -> tuple[float, str | None]:
        """(score, the earlier sentence) of `text` as a restated clause: a connective ("According to the same
        source,", "Ces échanges montrent que": at most CONNECTIVE_WORDS words, in lower case after the first,
        no number, so no name nor figure) opening a clause that was said before, longer than it and of
        CLAUSE_MIN_WORDS words at least, and ending where an earlier sentence ended: what is restated is
        the rest of a sentence, not a phrase from its middle ("the deficit from the previous government").
        The clause is said from the first word after which every shingle was said; (0, None) for any
        other sentence."""
        tokens = list(TOKEN_RE.finditer(text))
        stems = self.lang.stems_of([t.group() for t in tokens])
        size = self._options.shingle_size
        start = len(stems) - size + 1
        while start > 0 and tuple(stems[start - 1 : start - 1 + size]) in self._owner:
            start -= 1
        head = [t.group() for t in tokens[:start]]
        if (
            not 0 < start <= CONNECTIVE_WORDS
            or len(tokens) - start < max(CLAUSE_MIN_WORDS, start + 1)
            or any(c.isdigit() for w in head for c in w)
            or any(not w.islower() for w in head[1:])
            or tuple(stems[-size:]) not in self._ends
        ):
            return 0.0, None
        score, earlier, _ = self.repeat_of(text[tokens[start].start() :])
        return score, earlier

    def signature(self, text: str) -> Signature:
        return signature(text, self.lang, self._options.shingle_size)

    def add(self, sentence: Signature) -> None:
        index = len(self.said)
        self.said.append(sentence)
        self._numbers |= sentence.numbers
        self._ends.add(sentence.last)
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
            pieces, repeats = without_repeats(sentence, seen)
            kept.extend(pieces)
            removals.extend(removal("sentence", *repeat) for repeat in repeats)
        if kept:
            blocks.append(Block(tuple(kept)))
    return replace(dispatch, blocks=tuple(blocks)), removals


def without_repeats(sentence: str, seen: SeenText) -> tuple[list[str], list[tuple[str, str, float, str | None]]]:
    """The pieces of `sentence` to keep, and the (text, reason, score, earlier sentence) of each repeat cut
    from it; what is kept is added to `seen`.

    Scraped text runs sentences together (a quotation left open, sentences glued without a space), and
    the splitter may give several as one: a repeat inside is then a part of the sentence. The sentence is
    cut where one may end (`LanguageBundle.resplit`, inside quotations too), each part is measured
    against what was said, and each run of parts that repeat it is removed (a sentence of one part is
    measured as it always was); a part that repeats nothing is kept and said. So a long copy never
    takes a new sentence run into it along. A repeat cut from a longer sentence has PART_MIN_WORDS
    words at least: a shorter part ("Non merci.") is as likely said twice on purpose."""
    units = _units(sentence, seen.lang)
    pieces, repeats, kept_from = [], [], None
    first = 0
    while first < len(units):
        found, last = [], first
        while last < len(units) and (measured := _measured(sentence[units[last][0] : units[last][1]], seen))[0] >= 1:
            found.append(measured)
            last += 1
        text = sentence[units[first][0] : units[last - 1][1]]
        whole = first == 0 and last == len(units)
        if found and (whole or len(words(text)) >= PART_MIN_WORDS):
            if kept_from is not None:
                pieces.append(sentence[kept_from : units[first - 1][1]])
                kept_from = None
            score, earlier, _ = found[0] if len(found) == 1 else max(seen.repeat_of(text), found[0], key=lambda m: m[0])
            repeats.append((text, "already said in this dispatch" if whole else CUT_REASON, score, earlier))
            first = last
        else:
            seen.add(found[0][2] if found else measured[2])
            kept_from = units[first][0] if kept_from is None else kept_from
            first += 1
    if kept_from is not None:
        pieces.append(sentence[kept_from : units[-1][1]])
    return pieces, repeats


def _measured(text: str, seen: SeenText) -> tuple[float, str | None, Signature]:
    """`seen.repeat_of(text)`, or its score as a restated clause when that is higher."""
    score, earlier, said = seen.repeat_of(text)
    if RESTATED_MIN_SCORE <= score < 1:
        score, earlier = max((score, earlier), seen.restated_clause(text), key=lambda pair: pair[0])
    return score, earlier, said


def _units(sentence: str, lang: LanguageBundle) -> list[tuple[int, int]]:
    """(start, end) of each part of `sentence` where a sentence may end inside it."""
    spans, position = [], 0
    for part in lang.resplit(sentence, inside_quotes=True):
        start = sentence.find(part, position)
        position = start + len(part)
        spans.append((start, position))
    return spans or [(0, len(sentence))]


def shared_paragraphs(story: Sequence[Dispatch], options: DedupOptions) -> list[Removal]:
    """Level "story": paragraphs of a story's dispatch that an earlier dispatch of the story, from
    another outlet, carried too (wire copy), each with the paragraph it repeats.

    Both dispatches stay whole: the summary needs every outlet's copy to cite it (`attribute`) and
    to see the fact as carried by several, and it says the fact once (maximal marginal relevance).
    What this records is that the second copy was not said again, and whose it was. Wire copy is
    copied, not reworded: shingles of the words as written (no stems) are enough, and cheaper.
    """
    owner: dict[tuple[str, ...], int] = {}  # shingle -> first paragraph that has it
    carried: list[tuple[Dispatch, frozenset[str]]] = []  # (its dispatch, its numbers) by paragraph
    removals = []
    for dispatch in story:
        own = []
        for block in dispatch.blocks:
            tokens = [word.lower() for word in words(block.text)]
            if block.heading or len(tokens) < SHARED_MIN_WORDS:
                continue
            grams, said_numbers = shingles(tokens, options.shingle_size), numbers(block.text)
            found = Counter(owner[g] for g in grams if g in owner)
            match = next(((i, n) for i, n in most_common(found) if carried[i][0].source != dispatch.source), None)
            if match and said_numbers <= carried[match[0]][1] and match[1] / len(grams) >= options.containment:
                first = carried[match[0]][0]
                removals.append(
                    Removal(
                        "story",
                        dispatch.id,
                        dispatch.source,
                        block.text,
                        f"wire copy: {first.source} carried it too; said once, cited to both",
                        round(match[1] / len(grams), 3),
                        f"{first.source}: {first.location}",
                    )
                )
            else:
                own.append((grams, said_numbers))
        for grams, said_numbers in own:  # after the dispatch: its own paragraphs are not each other's copies
            for gram in grams:
                owner.setdefault(gram, len(carried))
            carried.append((dispatch, said_numbers))
    return removals


def shared_in_stories(stories: Sequence[Story], options: DedupOptions) -> list[Removal]:
    """`shared_paragraphs` of every story of more than one dispatch."""
    return [
        removal
        for story in stories
        if len(story.dispatches) > 1
        for removal in shared_paragraphs(story.dispatches, options)
    ]


DOCUMENT_SHINGLE = 5
OPENING_SHINGLES = 60  # about the first 60 words
BANDS, ROWS = 24, 3  # candidates from Jaccard ~0.35 up; containment is then measured exactly
SIGNATURE = BANDS * ROWS
_RANDOM = np.random.default_rng(20261127)  # fixed: the same signatures in every process and every day
_MULTIPLIERS = _RANDOM.integers(1, 2**63, size=SIGNATURE, dtype=np.uint64) | np.uint64(1)
_OFFSETS = _RANDOM.integers(0, 2**63, size=SIGNATURE, dtype=np.uint64)


def document_shingles(dispatch: Dispatch) -> np.ndarray:
    """Stable 32-bit hashes of the dispatch's lower-cased word 5-grams, in text order."""
    tokens = [w.lower() for w in words(dispatch.text)]
    grams = (" ".join(tokens[i : i + DOCUMENT_SHINGLE]) for i in range(max(len(tokens) - DOCUMENT_SHINGLE + 1, 1)))
    return np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams if g), dtype=np.uint64)


def minhash(hashes: np.ndarray) -> np.ndarray:
    """MinHash signature by multiply-shift hashing (uint64 arithmetic wraps, as it should)."""
    if hashes.size == 0:
        return np.zeros(SIGNATURE, dtype=np.uint64)
    with np.errstate(over="ignore"):
        permuted = (_MULTIPLIERS[:, None] * hashes[None, :] + _OFFSETS[:, None]) >> np.uint64(32)
    return cast(np.ndarray, permuted.min(axis=1))


@dataclass(frozen=True)
class DocumentPrint:
    """What is kept of a dispatch to recognise it later, even once its text is pruned."""

    size: int  # distinct 5-shingles
    whole: np.ndarray  # MinHash of all of them
    opening: np.ndarray  # MinHash of the opening's

    @classmethod
    def of(cls, dispatch: Dispatch) -> DocumentPrint:
        return cls.of_shingles(document_shingles(dispatch))

    @classmethod
    def of_shingles(cls, in_order: np.ndarray) -> DocumentPrint:
        distinct = np.unique(in_order)
        return cls(int(distinct.size), minhash(distinct), minhash(np.unique(in_order[:OPENING_SHINGLES])))

    def packed(self) -> np.ndarray:
        return np.concatenate([np.array([self.size], dtype=np.uint64), self.whole, self.opening])

    @classmethod
    def unpack(cls, values: np.ndarray) -> DocumentPrint:
        return cls(int(values[0]), values[1 : SIGNATURE + 1], values[SIGNATURE + 1 :])

    def containment_in(self, other: DocumentPrint) -> float:
        """Share of this dispatch's shingles the other has, estimated from the two MinHash signatures."""
        if not self.size:
            return 0.0
        jaccard = float(np.mean(self.whole == other.whole))
        shared = jaccard * (self.size + other.size) / (1 + jaccard)
        return min(shared / self.size, 1.0)


class BandIndex:
    """Locality-sensitive buckets of MinHash bands: signatures that agree on a band are candidates."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[int, bytes], list[int]] = {}

    @staticmethod
    def keys(signature: np.ndarray) -> list[tuple[int, bytes]]:
        return [(band, signature[band * ROWS : (band + 1) * ROWS].tobytes()) for band in range(BANDS)]

    def add(self, index: int, *signatures: np.ndarray) -> None:
        for signature in signatures:
            for key in self.keys(signature):
                self._buckets.setdefault(key, []).append(index)

    def candidates(self, *signatures: np.ndarray) -> set[int]:
        return {i for signature in signatures for key in self.keys(signature) for i in self._buckets.get(key, ())}


def dedup_across(
    dispatches: list[Dispatch], options: DedupOptions, prints: dict[str, DocumentPrint] | None = None
) -> tuple[list[Dispatch], list[Removal]]:
    """One dispatch per group of copies (the longest), with the others as its `copies`.
    `prints` are the dispatches' document prints by id, those the caller has already."""
    ordered = sorted(dispatches, key=_keep_first)
    prints = with_prints(ordered, prints)
    shingle_sets: dict[int, np.ndarray] = {}  # of the candidates only: MinHash found them

    def shingle_set(i: int) -> np.ndarray:
        if i not in shingle_sets:
            shingle_sets[i] = np.unique(document_shingles(ordered[i]))
        return shingle_sets[i]

    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index = BandIndex()
    scores: dict[int, float] = {}
    for b, dispatch in enumerate(ordered):
        printed = prints[dispatch.id]
        for a in sorted(index.candidates(printed.whole, printed.opening)):
            if ordered[a].language != dispatch.language:
                continue
            small, large = sorted((shingle_set(a), shingle_set(b)), key=len)
            if not small.size:
                continue
            shared = np.intersect1d(small, large, assume_unique=True).size
            score = shared / small.size
            if score >= options.document_containment:
                keep, drop = sorted((root(a), root(b)))  # lower index: the copy to keep
                parent[drop] = keep
                scores[b] = max(scores.get(b, 0.0), score)
        index.add(b, printed.whole, printed.opening)

    kept: dict[int, list[Dispatch]] = {}
    removals = []
    for position, dispatch in enumerate(ordered):
        keeper = root(position)
        kept.setdefault(keeper, [])
        if keeper != position:
            kept[keeper].append(dispatch)
            original = ordered[keeper]
            removals.append(
                Removal(
                    "dispatch",
                    dispatch.id,
                    dispatch.source,
                    _label(dispatch),
                    "same dispatch as another feed or URL carried",
                    round(scores.get(position, 1.0), 3),
                    f"{original.source}: {original.location}",
                )
            )
    result = [replace(ordered[k], copies=_unique(ordered[k], copies)) for k, copies in kept.items()]
    return result, removals


def _unique(keeper: Dispatch, copies: list[Dispatch]) -> tuple[Attribution, ...]:
    """The keeper's copies and the new ones', once each (a re-run meets the same copies again)."""
    found: dict[tuple[str, str], Attribution] = {}
    for attribution in (*keeper.copies, *(c for d in copies for c in d.carriers)):
        if (attribution.dispatch_id, attribution.location) != (keeper.id, keeper.location):
            found.setdefault((attribution.dispatch_id, attribution.location), attribution)
    return tuple(found.values())


class SeenPrint(Protocol):
    """A dispatch of an earlier digest, as `dedup_history` reads it (tasks.store.Seen)."""

    @property
    def id(self) -> str: ...
    @property
    def digest_date(self) -> date: ...
    @property
    def signature(self) -> np.ndarray: ...  # a packed DocumentPrint


def dedup_history(
    dispatches: list[Dispatch],
    seen: Sequence[SeenPrint],
    options: DedupOptions,
    prints: dict[str, DocumentPrint] | None = None,
) -> tuple[list[Dispatch], list[Removal]]:
    """Drop what an earlier digest already said: a dispatch mostly contained in one digested before.

    `seen` holds objects with `id`, `digest_date` and `signature` (a packed DocumentPrint).
    An updated version that adds enough new content is kept: it is news again.
    `prints` are the dispatches' own, when the caller has them already.
    """
    prints = with_prints(dispatches, prints)
    old = [DocumentPrint.unpack(s.signature) for s in seen]
    same_id = {s.id: number for number, s in enumerate(seen)}
    index = BandIndex()
    for number, printed in enumerate(old):
        index.add(number, printed.whole, printed.opening)
    kept, removals = [], []
    for dispatch in dispatches:
        printed = prints[dispatch.id]
        scored = [(printed.containment_in(old[n]), n) for n in sorted(index.candidates(printed.whole, printed.opening))]
        score, best = (1.0, same_id[dispatch.id]) if dispatch.id in same_id else max(scored, default=(0.0, None))
        if best is not None and score >= options.document_containment:
            removals.append(
                Removal(
                    "history",
                    dispatch.id,
                    dispatch.source,
                    _label(dispatch),
                    f"already in the digest of {seen[best].digest_date}",
                    round(score, 3),
                    seen[best].id,
                )
            )
        else:
            kept.append(dispatch)
    return kept, removals


def published_on(dispatches: list[Dispatch], day: date) -> tuple[list[Dispatch], list[Dispatch]]:
    """(dispatches published on `day` or undated, the others) for digests that select by publication date."""
    inside = [d for d in dispatches if d.published is None or d.published.date() == day]
    return inside, [d for d in dispatches if d not in inside]


def with_prints(dispatches: list[Dispatch], known: dict[str, DocumentPrint] | None) -> dict[str, DocumentPrint]:
    """The dispatches' document prints by id: those `known`, the others computed."""
    known = known or {}
    return {d.id: known.get(d.id) or DocumentPrint.of(d) for d in dispatches}


def _label(dispatch: Dispatch) -> str:
    return dispatch.title or (dispatch.sentences[0] if dispatch.sentences else dispatch.location)


def _keep_first(dispatch: Dispatch) -> tuple[int, float, str]:
    """The copy kept is the longest; then the earliest published; then the smallest id."""
    published = dispatch.published.timestamp() if dispatch.published else float("inf")
    return (-len(dispatch.sentences), published, dispatch.id)


def dedup(dispatches: list[Dispatch], options: DedupOptions) -> tuple[list[Dispatch], list[Removal]]:
    """Whole copies first (so their repeats are not counted twice), then repeats within each dispatch."""
    unique, removals = dedup_across(dispatches, options)
    kept = []
    for dispatch in unique:
        cleaned, removed = dedup_within(dispatch, options)
        kept.append(cleaned)
        removals.extend(removed)
    return kept, removals


def repeats_of_kept(removals: list[Removal], kept: list[Dispatch]) -> list[Removal]:
    """`removals`, less the repeats found within copies dropped since (they went with their copy), once each."""
    kept_ids = {(d.id, d.source) for d in kept}
    return list(dict.fromkeys(r for r in removals if r.level not in WITHIN or (r.dispatch_id, r.source) in kept_ids))
