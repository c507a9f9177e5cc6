"""Language bundles: detection, sentence splitting, words, stems and stop words.

Everything here works offline: pysbd's rules, py3langid's bundled model, the Snowball
stemmers of PyStemmer (libstemmer in C) and the stop-word lists that ship inside sumy (no NLTK data).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache, lru_cache

import py3langid
import pysbd
from pysbd.abbreviation_replacer import AbbreviationReplacer
import Stemmer
from sumy.utils import get_stop_words

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
        copy = text.translate(PYSBD_RESERVED)  # same length: offsets in it are offsets in the text
        segmenter = _segmenter(self.code)
        # pysbd's sentences as its processor gives them: `segment` would also locate each in the text
        # with a regular expression made of the sentence (compiled anew every time, half of its cost);
        # split_at_segments locates them itself.
        segments = [s for piece in _pieces(copy) if piece.strip() for s in segmenter.processor(piece).process()]
        return split_at_segments(text, copy, segments)

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
def _segmenter(code: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=code, clean=False)


class _CompiledOnce:
    """The `re` module, with every pattern compiled once. pysbd builds its patterns as strings on each
    call, more distinct ones than `re`'s own cache holds (512): they were compiled again and again,
    two thirds of its time. Given to pysbd's modules in place of `re`."""

    compile = staticmethod(lru_cache(maxsize=4096)(re.compile))

    def __getattr__(self, name: str):
        return getattr(re, name)

    def search(self, pattern, string, flags=0):
        return self.compile(pattern, flags).search(string)

    def match(self, pattern, string, flags=0):
        return self.compile(pattern, flags).match(string)

    def sub(self, pattern, repl, string, count=0, flags=0):
        return self.compile(pattern, flags).sub(repl, string, count)

    def split(self, pattern, string, maxsplit=0, flags=0):
        return self.compile(pattern, flags).split(string, maxsplit)

    def findall(self, pattern, string, flags=0):
        return self.compile(pattern, flags).findall(string)

    def finditer(self, pattern, string, flags=0):
        return self.compile(pattern, flags).finditer(string)


for _module in [m for name, m in sys.modules.items() if name.startswith("pysbd") and getattr(m, "re", None) is re]:
    _module.re = _CompiledOnce()


WHITESPACE = re.compile(r"\s")


def _search_for_abbreviations_in_string(self: AbbreviationReplacer, text: str) -> str:
    """pysbd's `AbbreviationReplacer.search_for_abbreviations_in_string`, with one more test before
    each of its regex scans. It scans the text for every abbreviation of the language (188 in English,
    2,225 in Italian) the text has anywhere, though its regex only matches one at the start of a word:
    skipping those whose first two letters start no word leaves 40 % of the scans, with the same result."""
    lowered = text.lower()
    starts = {text[end : end + 2].casefold() for end in (0, *(m.end() for m in WHITESPACE.finditer(text)))}
    for abbr in self.lang.Abbreviation.ABBREVIATIONS:
        stripped = abbr.strip()
        if stripped not in lowered:
            continue
        opening = stripped[:2]
        if len(opening) == 2 and opening.isalnum() and opening.casefold() not in starts:
            continue  # its regex, (?:^|\s)abbreviation, cannot match
        abbrev_match = re.findall(r"(?:^|\s|\r|\n){}".format(stripped), text, flags=re.IGNORECASE)
        if not abbrev_match:
            continue
        char_array = re.findall(r"(?<={" + str(re.escape(stripped)) + "} ).{1}", text)
        for ind, match in enumerate(abbrev_match):
            text = self.scan_for_replacements(text, match, ind, char_array)
    return text


AbbreviationReplacer.search_for_abbreviations_in_string = _search_for_abbreviations_in_string


@cache
def _stemmer(name: str):
    # libstemmer's Snowball, not NLTK's pure-Python copy (used by sumy's own Stemmer): ~8x faster,
    # and no NLTK import (~1 s and ~60 MB in each extraction worker).
    return Stemmer.Stemmer(name).stemWord


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
