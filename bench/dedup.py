"""De-duplication benchmark: inject near-duplicates into real articles, measure what is removed.

Articles are the source documents of ../shared/bench/summarisation (French and English). With a
fixed seed, each article gets one to three copies of its own sentences, altered as in real copy:
- exact: the sentence again, 1-3 sentences later;
- re-punctuated: typographic quotation marks for straight ones, a space before a comma, doubled
  spaces;
- restated clause: a connective plus the last 60-85 % of the sentence;
- partial: a span of 60-90 % of its words.
Each row of the table is one way of placing the copies, all articles each time: in clean text (one
row per kind), then in the messy text of scraped pages, with a copy of any of the first three
kinds: inside a quotation that spans it and its neighbours, after a sentence glued to it
(`chacun".Appel`, and a third of the other sentences glued too), in text whose punctuation is
re-spaced (`30 ,000`, `justice" ,`, `word .`), a restated clause that begins inside a quotation of
its sentence (so it carries the closing mark alone), and in an article whose quotation marks are
unbalanced (half of them dropped, stray ones opened).

The article is then one paragraph of text that goes through `clean` (sentence splitting, as the
flow does) and `dedup_within`. A copy is found when 80 % of its words are removed; an original
sentence is removed wrongly when any of its words is (a fact lost), unless it is also removed from
the same messy article without the copies: the article repeats it itself (pull quotes, a lead said
again), and removing it is right; those are counted apart.

For whole dispatches, a share of the articles is also republished as another outlet
would (new headline, re-punctuated, or cut to its first paragraphs); precision and
recall of dispatch-level removal are counted the same way.

    .venv/bin/python bench/dedup.py [--data DIR] [--limit N] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.clean import CleaningRules, clean, normalise  # noqa: E402
from tasks.dedup import DedupOptions, dedup_across, dedup_within  # noqa: E402
from tasks.models import RawDispatch  # noqa: E402

OPENERS = {
    "fr": ["Ces échanges montrent que", "Selon la même source,", "Autrement dit,", "Ainsi,", "Par ailleurs,"],
    "en": ["This means that", "According to the same source,", "In other words,", "Thus,", "Meanwhile,"],
}
SEGMENT_ONLY = CleaningRules(captions=[], inline_credits=[], drop_lines=[], datelines=[])
# The messy copy is cleaned in the article's language: detecting it again is not what is measured.
IN_LANGUAGE = {
    code: SEGMENT_ONLY.model_copy(update={"languages": (code,), "default_language": code}) for code in ("fr", "en")
}
QUOTES = '"“”«»'
TYPOGRAPHIC = {"fr": ("« ", " »"), "en": ("“", "”")}
FOUND = 0.8  # share of a copy's words removed for it to count as found
WORD = re.compile(r"\w+")


def articles(data: Path, limit: int | None) -> list[tuple[str, str]]:
    """(language, text) of the source articles, without the data's own duplicates.

    The BBC set holds the same article more than once, lightly edited: an article
    that opens with the same 12 words as an earlier one, or whose paragraphs are 80 %
    or more those of an earlier one (exact matches, not the measure benchmarked), is
    left out, so that finding it is not counted as a false positive.
    """
    out, owner, openings = [], {}, set()
    for path in sorted(data.glob("*.dev.jsonl")):
        for line in path.open(encoding="utf-8"):
            record = json.loads(line)
            for doc in record["docs"]:
                paragraphs = {p.strip() for p in doc.split("\n\n") if p.strip()}
                shared = max(Counter(owner[p] for p in paragraphs if p in owner).values(), default=0)
                opening = " ".join(doc.split()[:12])
                if len(doc.split()) < 80 or shared >= 0.8 * len(paragraphs) or opening in openings:
                    continue
                openings.add(opening)
                for paragraph in paragraphs:
                    owner.setdefault(paragraph, len(out))
                out.append((record["lang"], doc))
    random.Random(1).shuffle(out)
    return out[:limit] if limit else out


# --- copies -----------------------------------------------------------------------------------


def repunctuate(sentence: str, language: str, rng: random.Random) -> str:
    """Typographic quotation marks for straight ones, a space before a comma, a doubled space."""
    opening, closing = TYPOGRAPHIC[language]
    marks = iter([opening, closing] * sentence.count('"'))
    text = re.sub(r'\s?"\s?', lambda m: next(marks), sentence) if sentence.count('"') % 2 == 0 else sentence
    text = re.sub(r"(?<=\w),", " ,", text, count=1)
    spaces = [m.start() for m in re.finditer(" ", text)]
    for at in sorted(rng.sample(spaces, min(2, len(spaces))), reverse=True):
        text = text[:at] + " " + text[at:]
    return text


def tail(sentence: str, rng: random.Random, language: str, start: int | None = None) -> str | None:
    """A connective plus the last 60-85 % of the sentence's words (from word `start`, when given)."""
    words = sentence.rstrip(".!?").split()
    if len(words) < 10:
        return None
    start = len(words) - int(len(words) * rng.uniform(0.6, 0.85)) if start is None else start
    return f"{rng.choice(OPENERS[language])} {' '.join(words[start:])}."


def partial(sentence: str, rng: random.Random) -> str | None:
    words = sentence.rstrip(".!?").split()
    if len(words) < 12:
        return None
    keep = int(len(words) * rng.uniform(0.6, 0.9))
    start = rng.randint(0, len(words) - keep)
    body = " ".join(words[start : start + keep])
    return body[0].upper() + body[1:] + "."


def clause_from_quotation(sentence: str, rng: random.Random, language: str) -> str | None:
    """A restated clause whose first word is inside a quotation of the sentence, the closing mark after it."""
    words = sentence.rstrip(".!?").split()
    opens = [i for i, w in enumerate(words) if w[0] in '"“«']
    closes = [i for i, w in enumerate(words) if w.rstrip(".,;:!?")[-1:] in '"”»' or w == "»"]
    starts = [
        i
        for o in opens
        for c in closes
        if c > o
        for i in range(o + 1, c + 1)
        if 0.6 <= (len(words) - i) / len(words) <= 0.85
    ]
    return tail(sentence, rng, language, rng.choice(starts)) if starts and len(words) >= 10 else None


def copy_of(kind: str, sentence: str, language: str, rng: random.Random) -> str | None:
    return {
        "exact": lambda: sentence,
        "punctuation": lambda: repunctuate(sentence, language, rng),
        "clause": lambda: tail(sentence, rng, language),
        "partial": lambda: partial(sentence, rng),
        "quoted clause": lambda: clause_from_quotation(sentence, rng, language),
    }[kind]()


# --- placing them -----------------------------------------------------------------------------


@dataclass
class Unit:
    text: str
    copy: bool  # an injected copy (else a sentence of the article)
    glued: bool = False  # no space between it and the one before


def inject(sentences: list[str], language: str, kinds: list[str], rng: random.Random) -> list[Unit]:
    """The article's sentences with one to three copies of some of them, each of a kind from `kinds`,
    an exact copy 1-3 sentences after its original, the others anywhere after it."""
    units = [Unit(s, False) for s in sentences]
    for _ in range(rng.randint(1, 3)):
        originals = [i for i, u in enumerate(units) if not u.copy]
        index = rng.choice(originals)
        kind = rng.choice(kinds)
        copy = copy_of(kind, units[index].text, language, rng)
        if kind == "quoted clause" and copy is None:  # a sentence that holds a quotation, if any
            candidates = [i for i in originals if copy_of(kind, units[i].text, language, random.Random(0))]
            index = rng.choice(candidates) if candidates else index
            copy = copy_of(kind, units[index].text, language, rng)
        if not copy or any(u.copy and u.text == copy for u in units):
            continue
        later = index + rng.randint(1, 3) if kind == "exact" else rng.randint(index + 1, len(units))
        units.insert(min(later, len(units)), Unit(copy, True))
    return units


def in_quotation(units: list[Unit], rng: random.Random) -> None:
    """Each copy inside a quotation that opens on the sentence before it and closes on the one after."""
    for i, unit in enumerate(units):
        if unit.copy and i > 0:
            units[i - 1].text = '"' + units[i - 1].text
            after = units[i + 1] if i + 1 < len(units) else unit
            after.text = after.text + '"'


def glued(units: list[Unit], rng: random.Random) -> None:
    """Each copy glued to the sentence before it (`chacun".Appel`, `justice" .Les`), and a third of the
    other sentences too."""
    for i, unit in enumerate(units[1:], 1):
        if unit.copy or rng.random() < 0.33:
            unit.glued = True
            before = units[i - 1]
            if rng.random() < 0.3 and before.text[-1:] in ".!?":
                before.text = before.text[:-1] + rng.choice(['".', '" .', " ."])


def respaced(units: list[Unit], rng: random.Random) -> None:
    """A space before commas and full stops (`30 ,000`, `tartufferie" ,`, `word .`), doubled spaces."""
    for unit in units:
        text = re.sub(r"(?<=[\w\"”»]),", lambda m: " ," if rng.random() < 0.5 else ",", unit.text)
        text = re.sub(r"(?<=\w)\.$", lambda m: " ." if rng.random() < 0.4 else ".", text)
        unit.text = re.sub(r"(?<=\w) (?=\w)", lambda m: "  " if rng.random() < 0.05 else " ", text)


def unbalanced(units: list[Unit], rng: random.Random) -> None:
    """Half of the article's quotation marks dropped, and one opened at the start of a tenth of its sentences."""
    for unit in units:
        text = "".join(c for c in unit.text if c not in QUOTES or rng.random() < 0.5)
        unit.text = '"' + text if rng.random() < 0.1 else text


@dataclass(frozen=True)
class Row:
    name: str
    kinds: tuple[str, ...]
    mess: Callable[[list[Unit], random.Random], None] | None = None


MESSY = ("exact", "punctuation", "clause")
ROWS = [
    Row("exact copy, 1-3 sentences later", ("exact",)),
    Row("re-punctuated copy (typographic quotes, space before a comma, doubled spaces)", ("punctuation",)),
    Row("restated clause (a connective plus the last 60-85 %)", ("clause",)),
    Row("partial sentence (60-90 % of its words)", ("partial",)),
    Row("copy inside a quotation", MESSY, in_quotation),
    Row("copy after a glued sentence", MESSY, glued),
    Row("copy in re-spaced punctuation", MESSY, respaced),
    Row("restated clause beginning inside a quotation", ("quoted clause",)),
    Row("article with unbalanced quotation marks", MESSY, unbalanced),
]


def joined(units: list[Unit]) -> tuple[str, list[tuple[int, int]]]:
    """The units as one paragraph, as cleaning normalises it (doubled spaces are single), and each one's span."""
    text, spans = "", []
    for unit in units:
        text += "" if not text or unit.glued else " "
        piece = normalise(unit.text).strip()
        spans.append((len(text), len(text) + len(piece)))
        text += piece
    return text, spans


def kept_mask(text: str, sentences: list[str]) -> list[bool]:
    """Which characters of `text` the sentences (pieces of it, in order) cover."""
    mask, position = [False] * len(text), 0
    for sentence in sentences:
        found = text.find(sentence, position)
        if found < 0:
            continue
        mask[found : found + len(sentence)] = [True] * len(sentence)
        position = found + len(sentence)
    return mask


def removed_words(units: list[Unit], language: str, options: DedupOptions) -> tuple[list[tuple[int, int]], float]:
    """(words removed, words) of each unit once the units, as one paragraph, go through `clean` and
    `dedup_within`; and the time `dedup_within` took."""
    paragraph, spans = joined(units)
    dispatch, _, _ = clean(RawDispatch("bench", "article", paragraph, "text"), IN_LANGUAGE[language])
    if dispatch is None:
        return [(0, 0) for _ in units], 0.0
    started = time.process_time()  # CPU time: other jobs on the cores change the wall time
    kept, _ = dedup_within(dispatch, options)
    elapsed = time.process_time() - started
    before, after = kept_mask(paragraph, dispatch.sentences), kept_mask(paragraph, kept.sentences)
    counts = []
    for start, end in spans:
        words = [m.start() for m in WORD.finditer(paragraph, start, end)]
        counts.append((sum(before[i] and not after[i] for i in words), len(words)))
    return counts, elapsed


def sentence_benchmark(docs, row: Row, seed: int, options: DedupOptions):
    """(copies found, originals removed wrongly, copies missed, originals the article repeats itself, seconds).
    An original the article itself repeats (removed from the messy article without the copies too) is
    left out: removing it is right, and not what the copies measure."""
    rng = random.Random(f"{seed} {row.name}")
    found = wrong = missed = native = 0
    elapsed = 0.0
    for number, (_, text) in enumerate(docs):
        base, _, _ = clean(RawDispatch("bench", str(number), text, "text"), SEGMENT_ONLY)
        if base is None or len(base.sentences) < 3:
            continue
        units = inject(base.sentences, base.language, list(row.kinds), rng)
        if not any(u.copy for u in units):
            continue
        if row.mess:
            row.mess(units, rng)
        counts, seconds = removed_words(units, base.language, options)
        elapsed += seconds
        alone = iter(removed_words([u for u in units if not u.copy], base.language, options)[0])
        for unit, (removed, words) in zip(units, counts):
            if unit.copy:
                found += removed >= FOUND * words
                missed += removed < FOUND * words
            elif next(alone)[0]:
                native += 1
            else:
                wrong += removed > 0
    return found, wrong, missed, native, elapsed


def document_benchmark(docs, seed: int, options: DedupOptions):
    rng = random.Random(seed)
    dispatches, original_of = [], {}
    for number, (_language, text) in enumerate(docs):
        base, _, _ = clean(RawDispatch("bench", f"doc{number}", text, "text", title=f"Title {number}"), SEGMENT_ONLY)
        if base is None:
            continue
        dispatches.append(base)
        if rng.random() < 0.3:
            paragraphs = text.split("\n\n")
            variant = rng.choice(["headline", "punctuation", "shorter"])
            body = {
                "headline": text,
                "punctuation": text.replace(",", "").replace('"', "«"),
                "shorter": "\n\n".join(paragraphs[: max(2, int(len(paragraphs) * 0.6))]),
            }[variant]
            copy, _, _ = clean(
                RawDispatch("copy", f"copy{number}", body, "text", title=f"Other {number}"), SEGMENT_ONLY
            )
            if copy is not None and copy.id != base.id:
                dispatches.append(copy)
                original_of[copy.id] = base.id
    started = time.perf_counter()
    kept, _ = dedup_across(dispatches, options)
    elapsed = time.perf_counter() - started
    right = wrong = 0
    for dispatch in kept:
        group = {dispatch.id, *(c.dispatch_id for c in dispatch.copies)}
        pairs = sum(1 for copy, original in original_of.items() if copy in group and original in group)
        right += pairs
        wrong += len(group) - 1 - pairs
    missed = len(original_of) - right
    return right, wrong, missed, elapsed, len(dispatches)


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench" / "summarisation")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} is absent: the benchmark reads ../shared/bench/summarisation")
    docs = articles(args.data, args.limit)
    options = DedupOptions()
    print(f"{len(docs)} articles (fr and en), seed {args.seed}; targets: precision >= 0.98, recall >= 0.95\n")
    print(
        "| level: how the copies are placed | injected | removed right | removed wrong | missed "
        "| the article's own repeats (left out) | precision | recall | time per 1,000 dispatches |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in ROWS:
        tp, fp, fn, native, seconds = sentence_benchmark(docs, row, args.seed, options)
        print(
            f"| sentence: {row.name} | {tp + fn} | {tp} | {fp} | {fn} | {native} | {ratio(tp, tp + fp):.3f} | "
            f"{ratio(tp, tp + fn):.3f} | {seconds / len(docs) * 1000:.2f} s |",
            flush=True,
        )
    dtp, dfp, dfn, dseconds, count = document_benchmark(docs, args.seed, options)
    print(
        f"| dispatch (across a run of {count}) | {dtp + dfn} | {dtp} | {dfp} | {dfn} | – | {ratio(dtp, dtp + dfp):.3f} | "
        f"{ratio(dtp, dtp + dfn):.3f} | {dseconds / count * 1000:.2f} s |"
    )


if __name__ == "__main__":
    main()
