"""Language bundles: detection, sentence splitting, words, stems and stop words.

Sentences are pysbd's (patched for speed in tasks/compat.py), cut again where scraped text runs
several together (glued, re-spaced, a quotation mark left open). Everything here works offline:
pysbd's rules, py3langid's bundled model, the Snowball
stemmers of PyStemmer (libstemmer in C) and the stop-word lists that ship inside sumy (no NLTK data).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import cast

import py3langid
import Stemmer
from sumy.utils import get_stop_words

from tasks import compat

# pysbd language code -> sumy/Snowball language name. Adding a language is a line here.
LANGUAGE_NAMES = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "it": "italian",
}

# Characters pysbd uses as placeholders while it segments: text that holds them comes back rewritten
# ("∯" as "."), or lost ("ȸ"). pysbd segments a copy where each is a private-use character instead, and
# where a line break is a space: pysbd ends a sentence at one, and a paragraph's are hard wraps.
PYSBD_RESERVED = str.maketrans({c: "\ue000" for c in "∯♟♝ǃ♨☝ƪᓴᓷᓸᓳᓱᓰᓭ✂☏♭♬☉☈☇☄∮ȹȸ⎋⌬"} | {"\n": " "})
# pysbd's time grows with the square of a paragraph's length: it segments pieces of about this many
# characters, cut after a sentence end (PIECE_END) when the piece has one.
PYSBD_CHUNK = 4000
PIECE_END = re.compile(r"[.!?…][\"'”’»)\]]*\s+")
# A piece pysbd would give back whole, so it is not asked (its rules cost ~1 ms a paragraph): no end
# punctuation but a final run, and none of what else it cuts at (a closing quotation mark before a
# capital, a list item "a)"). Checked against pysbd on real paragraphs by tests/test_language.py.
ONE_SENTENCE = re.compile(r"[^.!?。．！？…)\"“”«»„]*[.!?。．！？…]*\s*")
# A word (with inner hyphens and apostrophes), or an elided French article or pronoun (l’, d’,
# qu’...) before one: its own word, without the apostrophe. One regex: tokenising is a hot spot.
# How sure detection must be to call a dispatch a language outside the configured ones.
CONFIDENT_WORDS = 20
CONFIDENT_PROBABILITY = 0.9
TOKEN_RE = re.compile(r"\b(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)(?=['’]\w)|\w+(?:[-'’]\w+)*", re.IGNORECASE)


@dataclass(frozen=True)
class LanguageBundle:
    code: str
    name: str
    stop_words: frozenset[str]

    def sentences(self, text: str) -> list[str]:
        """The text cut into sentences: pieces of the text as it is, in order, nothing left out."""
        return [piece for segment in _regrouped(text, self.segments(text)) for piece in self.resplit(segment)]

    def segments(self, text: str) -> list[str]:
        """pysbd's sentences of the text alone (without `resplit`), as pieces of the text."""
        copy = text.translate(PYSBD_RESERVED)  # same length: offsets in it are offsets in the text
        segments = [s for piece in _pieces(copy) if piece.strip() for s in self._segmented(piece)]
        return split_at_segments(text, copy, segments)

    def _segmented(self, piece: str) -> list[str]:
        if ONE_SENTENCE.fullmatch(piece) and "''" not in piece and "``" not in piece:
            return [piece]
        return compat.segments(self.code, piece)

    def resplit(self, sentence: str, inside_quotes: bool = False) -> list[str]:
        """`sentence` cut where another one starts that pysbd missed, in pieces of it as it is.

        Scraped text glues sentences (`chacun".Appel`) and spaces punctuation (`justice" .Les`): such an
        end always cuts. A plain end (`word. Next`) cuts only when the sentence's quotation marks do not
        pair up (pysbd keeps a quotation whole, so a quote opened and never closed swallows the sentences
        after it), or with `inside_quotes` (de-duplication compares a quotation's sentences one by one).
        An end after an abbreviation or an initial (`M. Dupont`, `U.S. Army`) never cuts."""
        ends = sentence_ends(sentence, self.abbreviations)
        if not ends:
            return [sentence.strip()] if sentence.strip() else []
        plain = inside_quotes or not quotes_pair(sentence)
        cuts = [end for end, kind in ends if plain or kind != "plain"]
        pieces = [sentence[start:end].strip() for start, end in zip([0, *cuts], [*cuts, len(sentence)])]
        return [piece for piece in pieces if piece]

    @property
    def abbreviations(self) -> frozenset[str]:
        return compat.abbreviations(self.code)

    def words(self, text: str) -> list[str]:
        return words(text)

    def stem(self, word: str) -> str:
        return _stem(self.name, word.lower())

    def stems(self, text: str) -> list[str]:
        return self.stems_of(words(text))

    def stems_of(self, tokens: list[str]) -> list[str]:
        return [_stem(self.name, w.lower()) for w in tokens]


def _pieces(text: str) -> list[str]:
    """`text` in pieces of at most PYSBD_CHUNK characters, cut after a sentence end when there is one
    (else at a space): pysbd's time grows with the square of a paragraph's length (a 1 MB one-line
    page took 10 minutes), so it gets pieces of a normal paragraph's size."""
    pieces, start = [], 0
    while len(text) - start > PYSBD_CHUNK:
        window = text[start + PYSBD_CHUNK // 2 : start + PYSBD_CHUNK]
        ends = [m.end() for m in PIECE_END.finditer(window)] or [m.end() for m in re.finditer(r"\s+", window)]
        cut = start + PYSBD_CHUNK // 2 + ends[-1] if ends else start + PYSBD_CHUNK
        pieces.append(text[start:cut])
        start = cut
    return [*pieces, text[start:]]


def _regrouped(text: str, segments: list[str]) -> list[str]:
    """`segments` (pieces of `text`, in order), where one that starts with the end of the one before
    (pysbd cuts `Ménard .Le groupe` as `Ménard` and `.Le groupe`) gives that end back to it."""
    if not any(LEADING_END.match(segment) for segment in segments[1:]):
        return segments
    ends: list[int]
    ends, position = [], 0
    for segment in segments:
        start = text.find(segment, position)
        lead = LEADING_END.match(segment)
        if ends and lead:
            ends[-1] = start + lead.end()
        ends.append(start + len(segment))
        position = ends[-1]
    pieces = [text[start:end].strip() for start, end in zip([0, *ends], ends)]
    return [piece for piece in pieces if piece]


def split_at_segments(text: str, copy: str, segments: list[str]) -> list[str]:
    """`text` cut where pysbd's segments of `copy` end. pysbd rewrites some text it segments (its
    placeholder characters, spaced ellipses...): cutting the original at the segments' ends keeps
    every sentence a piece of the input and loses nothing, whatever pysbd did to its copy."""
    ends, position = [], 0
    for segment in (s.strip() for s in segments):
        found = copy.find(segment, position) if segment else -1
        if found >= 0:  # a segment pysbd rewrote is not found: its text joins the next sentence
            position = found + len(segment)
            ends.append(position)
    pieces = [text[start:end] for start, end in zip([0, *ends], [*ends, len(text)])]
    return [piece.strip() for piece in pieces if piece.strip()]


# A sentence's end inside a segment: end punctuation, maybe after a space or a closing quote (`justice" .`),
# then closing quotes or brackets (French spaces its »), then whatever space, then a sentence's start: an
# opening quote, a capital or a figure.
SENTENCE_BREAK = re.compile(
    r"(?<=\S)(?P<space>\s?)(?P<end>[.!?…]+)(?:[\"”’)\]]|\s?»)*(?P<gap>\s*)(?=[\"“«„]*\s?(?P<next>[A-ZÀ-ÖØ-ÞŒ0-9]))"
)
CLOSED_GLUED = re.compile(r"(?<=\w)\s?[»”](?=[A-ZÀ-ÖØ-ÞŒ])")  # `toutes ces vies »L'architecture`
LEADING_END = re.compile(r"[.!?…,;:]+[\"”»’)\]]*(?=\s*\S)")
WORD_BEFORE = re.compile(r"([\w.’'-]*\w)[\"”»’)\]\s]*$")
QUOTE_PAIRS = (("«", "»"), ("“", "”"))
QUOTED_END = re.compile(r"[.!?…]\s+[A-ZÀ-ÖØ-ÞŒ]")
MID_SENTENCE_CLOSE = re.compile(r'\w" \w')


def sentence_ends(text: str, abbreviations: frozenset[str]) -> list[tuple[int, str]]:
    """(offset, kind) of each place in `text` where a sentence may end and the next begin: kind "glued"
    (no space after the punctuation, or a closing quotation mark glued to a capital), "spaced" (a space
    before it) or "plain". Not after an abbreviation (`M.`, `Dr.`, `U.S.`, `p.m.`), nor at the text's end;
    before a figure, only after a word (`contaminations.137 personnes`, not `3.5`)."""
    ends = []
    for match in SENTENCE_BREAK.finditer(text):
        before = WORD_BEFORE.search(text, max(0, match.start() - 40), match.start())
        word = before.group(1) if before else ""
        if text[match.start("gap") - 1] == "." and not match.group("space") and abbreviated(word, abbreviations):
            continue
        if match.group("next").isdigit() and not (word.isalpha() and len(word) > 1):
            continue
        if match.end() >= len(text) or not any(c.isalnum() for c in text[match.end() : match.end() + 3]):
            continue
        # French spaces its `!` and `?` (and some an ellipsis): only a lone full stop is spaced by mistake
        spaced = match.group("space") and match.group("end") == "."
        kind = "spaced" if spaced else "plain" if match.group("gap") else "glued"
        end = match.start("gap")
        if kind != "plain" and text[end - 1] == '"' and text.count('"', 0, end - 1) % 2 == 0:
            end -= 1  # `collèges."Il`: the quotation mark opens the next sentence, none being open
        ends.append((end, kind))
    return sorted([*ends, *((m.end(), "glued") for m in CLOSED_GLUED.finditer(text))])


def abbreviated(word: str, abbreviations: frozenset[str]) -> bool:
    """Whether a full stop after `word` is an abbreviation's: an initial (`M.`), a listed abbreviation
    (`Dr.`), a capitalised word of three letters at most (`Div. II`, `Gen.`: the lists miss many), or
    short parts of letters between dots (`U.S.`, `p.m.`, `J.-C.`); not a domain (`gamesindustry.biz.`)
    nor a figure (`$34.1m.`, `2:04.45.`)."""
    if len(word) <= 1:
        return word.isalpha()
    if len(word) <= 3 and word[0].isupper() and word[1:].islower():
        return True
    parts = word.split(".")
    return word.casefold() in abbreviations or (
        len(parts) > 1 and all(len(p) <= 3 and not any(c.isdigit() for c in p) for p in parts)
    )


def quotes_pair(text: str) -> bool:
    """Whether every quotation mark of `text` has its other half. Straight ones pair in order; a pair around
    a sentence's end whose closing mark sits inside a sentence going on (`Officials said" the road`) is
    a quote opened sentences earlier and closed here, not a quotation."""
    marks = [m.start() for m in re.finditer('"', text)]
    if len(marks) % 2 or any(text.count(a) != text.count(b) for a, b in QUOTE_PAIRS):
        return False
    return not any(
        MID_SENTENCE_CLOSE.match(text, close - 1) and QUOTED_END.search(text, start, close)
        for start, close in zip(marks[::2], marks[1::2])
    )


def words(text: str) -> list[str]:
    """Word tokens, with French elisions split off (l’Ukraine -> l, Ukraine)."""
    return TOKEN_RE.findall(text)


def detect_language(text: str, allowed: tuple[str, ...], default: str) -> str:
    """The text's language among all py3langid knows, which may be none of the allowed ones.

    Short text is easily mistaken (a headline in English can score as Fula): a language outside
    `allowed` is believed only for CONFIDENT_WORDS words or more at CONFIDENT_PROBABILITY; else the
    most likely allowed language, and the default for text too short to tell."""
    tokens = len(words(text))
    if tokens < 3:
        return default
    sample = text[:5000]
    code: str
    probability: float
    code, probability = _identifier(None).classify(sample)
    if code in allowed or (tokens >= CONFIDENT_WORDS and probability >= CONFIDENT_PROBABILITY):
        return code
    code, _ = _identifier(allowed).classify(sample)
    return code if code in allowed else default


def bundle(code: str) -> LanguageBundle:
    if code not in LANGUAGE_NAMES:
        raise ValueError(f"unsupported language {code!r}; supported: {', '.join(sorted(LANGUAGE_NAMES))}")
    return _bundle(code)


@cache
def _bundle(code: str) -> LanguageBundle:
    name = LANGUAGE_NAMES[code]
    return LanguageBundle(code=code, name=name, stop_words=frozenset(get_stop_words(name)))


@cache
def _stemmer(name: str) -> Callable[[str], str]:
    # libstemmer's Snowball, not NLTK's pure-Python copy (used by sumy's own Stemmer): ~8x faster,
    # and no NLTK import (~1 s and ~60 MB in each extraction worker).
    return cast("Callable[[str], str]", Stemmer.Stemmer(name).stemWord)


@lru_cache(maxsize=500_000)
def _stem(name: str, word: str) -> str:
    """Words repeat across sentences and dispatches: stems are cached."""
    return _stemmer(name)(word)


@cache
def _identifier(allowed: tuple[str, ...] | None) -> py3langid.langid.LanguageIdentifier:
    """py3langid's model over `allowed`, or over all its languages (None), giving probabilities."""
    identifier = py3langid.langid.LanguageIdentifier.from_model_file(py3langid.langid.MODEL_FILE, norm_probs=True)
    if allowed is not None:
        identifier.set_languages(list(allowed))
    return identifier


class SumyTokenizer:
    """sumy's tokenizer interface over our bundle, so sumy never needs NLTK's punkt data."""

    def __init__(self, code: str):
        self._bundle = bundle(code)

    @property
    def language(self) -> str:
        return self._bundle.name

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(self._bundle.sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(self._bundle.words(sentence))
