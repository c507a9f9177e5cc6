"""Language bundles: detection, sentence splitting, words, stems and stop words.

Everything here works offline: pysbd's rules, py3langid's bundled model, and the
Snowball stemmers and stop-word lists that ship inside sumy (no NLTK data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import py3langid
import pysbd
from sumy.nlp.stemmers import Stemmer
from sumy.utils import get_stop_words

# pysbd language code -> sumy/Snowball language name. Adding a language is a line here.
LANGUAGE_NAMES = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
}

WORD_RE = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
# Elided French articles and pronouns (l’, d’, qu’...) are their own words.
ELISION_RE = re.compile(r"^(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)


@dataclass(frozen=True)
class LanguageBundle:
    code: str
    name: str
    stop_words: frozenset[str]

    def sentences(self, text: str) -> list[str]:
        return [s.strip() for s in _segmenter(self.code).segment(text) if s.strip()]

    def words(self, text: str) -> list[str]:
        return words(text)

    def stem(self, word: str) -> str:
        return _stem(self.name, word.lower())

    def stems(self, text: str) -> list[str]:
        return [_stem(self.name, w.lower()) for w in words(text)]


def words(text: str) -> list[str]:
    """Word tokens, with French elisions split off (l’Ukraine -> l’, Ukraine)."""
    out: list[str] = []
    for match in WORD_RE.finditer(text):
        token = match.group()
        elision = ELISION_RE.match(token)
        if elision and len(token) > elision.end():
            out.append(token[: elision.end() - 1])
            token = token[elision.end() :]
        out.append(token)
    return out


def detect_language(text: str, allowed: tuple[str, ...], default: str) -> str:
    """The most likely of the allowed languages; the default for text too short to tell."""
    if len(words(text)) < 3:
        return default
    code, _ = _identifier(allowed).classify(text[:5000])
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


@cache
def _stemmer(name: str) -> Stemmer:
    return Stemmer(name)


@lru_cache(maxsize=500_000)
def _stem(name: str, word: str) -> str:
    """Snowball is pure Python: words repeat across sentences and dispatches, so stems are cached."""
    return _stemmer(name)(word)


@cache
def _identifier(allowed: tuple[str, ...]) -> py3langid.langid.LanguageIdentifier:
    identifier = py3langid.langid.LanguageIdentifier.from_model_file(py3langid.langid.MODEL_FILE)
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
