"""pysbd, patched: the three changes the project makes to it, in one place.

pysbd (0.3.4, unmaintained since 2021) is the sentence splitter's base. The project changes three
things in it, all for speed, none for its results:
1. its modules' `re` is `CompiledOnce`, which compiles each pattern once;
2. `AbbreviationReplacer.search_for_abbreviations_in_string` is replaced by a faster equivalent;
3. `segments` calls its private `Segmenter.processor` directly.
Each leans on pysbd's internals: `tests/test_language.py` pins the version, the replaced method's
source and the private names used, so that a new pysbd fails those tests before it changes a sentence.
"""

from __future__ import annotations

import re
import sys
from functools import cache, lru_cache

import pysbd
from pysbd.abbreviation_replacer import AbbreviationReplacer

PYSBD_VERSION = "0.3.4"  # the version these patches were written against


def segments(code: str, text: str) -> list[str]:
    """pysbd's sentences of `text` as its processor gives them (patch 3). `Segmenter.segment` would also
    locate each in the text with a regular expression made of the sentence (compiled anew every time,
    half of its cost); the caller locates them itself."""
    return _segmenter(code).processor(text).process()


@cache
def abbreviations(code: str) -> frozenset[str]:
    """The language's abbreviations as pysbd lists them, lower-cased, without their final dot."""
    return frozenset(a.strip().casefold() for a in _segmenter(code).language_module.Abbreviation.ABBREVIATIONS)


@cache
def _segmenter(code: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=code, clean=False)


_compiled = lru_cache(maxsize=4096)(re.compile)


class CompiledOnce:
    """Patch 1: the `re` module, with every pattern compiled once. pysbd builds its patterns as strings on each
    call, more distinct ones than `re`'s own cache holds (512): they were compiled again and again,
    two thirds of its time. Given to pysbd's modules in place of `re`."""

    compile = staticmethod(_compiled)

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
    _module.re = CompiledOnce()


WHITESPACE = re.compile(r"\s")


def search_for_abbreviations_in_string(self: AbbreviationReplacer, text: str) -> str:
    """Patch 2: pysbd's `AbbreviationReplacer.search_for_abbreviations_in_string`, with one more test before
    each of its regex scans. It scans the text for every abbreviation of the language (188 in English,
    2,225 in Italian) the text has anywhere, though its regex only matches one at the start of a word:
    skipping those whose first two letters start no word leaves 40 % of the scans, and those never
    followed by a full stop (each replacement is of that full stop) a third of the rest, with the same
    result. Its two scans use the patterns compiled once."""
    lowered = text.lower()
    starts = {text[end : end + 2].casefold() for end in (0, *(m.end() for m in WHITESPACE.finditer(text)))}
    for abbr in self.lang.Abbreviation.ABBREVIATIONS:
        stripped = abbr.strip()
        if stripped not in lowered:
            continue
        opening = stripped[:2]
        if len(opening) == 2 and opening.isalnum() and opening.casefold() not in starts:
            continue  # its regex, (?:^|\s)abbreviation, cannot match
        if stripped.isalpha() and f"{stripped.lower()}." not in lowered:
            continue  # each of its replacements is of the full stop right after it
        abbrev_match = _compiled(r"(?:^|\s|\r|\n){}".format(stripped), re.IGNORECASE).findall(text)
        if not abbrev_match:
            continue
        char_array = _compiled(r"(?<={" + str(re.escape(stripped)) + "} ).{1}", 0).findall(text)
        for ind, match in enumerate(abbrev_match):
            text = self.scan_for_replacements(text, match, ind, char_array)
    return text


AbbreviationReplacer.search_for_abbreviations_in_string = search_for_abbreviations_in_string
