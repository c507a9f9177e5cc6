"""De-duplication benchmark: inject near-duplicates into real articles, measure what is removed.

Articles are the source documents of ../shared/bench/summarisation (French and English).
With a fixed seed, each article gets copies of some of its own sentences, placed
later in it and altered as in real copy: exact, re-punctuated (quotes, commas, case),
a restated clause (a connective plus the sentence's last 60-90 %), a partial sentence
(a span of 60-90 % of its words). Precision and recall of sentence removal are counted
against those injections: any other sentence removed is a false positive.

For whole dispatches, a share of the articles is also republished as another outlet
would (new headline, re-punctuated, or cut to its first paragraphs); precision and
recall of dispatch-level removal are counted the same way.

    .venv/bin/python bench/dedup.py [--data DIR] [--limit N] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.clean import CleaningRules, clean  # noqa: E402
from tasks.dedup import DedupOptions, dedup_across, dedup_within  # noqa: E402
from tasks.models import RawDispatch  # noqa: E402

OPENERS = {
    "fr": ["Ces échanges montrent que", "Selon la même source,", "Autrement dit,", "Ainsi,", "Par ailleurs,"],
    "en": ["This means that", "According to the same source,", "In other words,", "Thus,", "Meanwhile,"],
}
SEGMENT_ONLY = CleaningRules(captions=[], inline_credits=[], drop_lines=[], datelines=[])


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


def repunctuate(sentence: str, rng: random.Random) -> str:
    text = sentence.replace('"', "«", 1).replace('"', "»", 1) if '"' in sentence else sentence.replace(",", "", 1)
    text = re.sub(r"[.!?]$", rng.choice(["!", " .", ";", ""]), text)
    return text[0].lower() + text[1:] if rng.random() < 0.5 else text.upper()[:1] + text[1:]


def fragment(sentence: str, rng: random.Random, language: str, with_opener: bool) -> str | None:
    words = sentence.rstrip(".!?").split()
    if len(words) < 12:
        return None
    keep = int(len(words) * rng.uniform(0.6, 0.9))
    start = len(words) - keep if with_opener else rng.randint(0, len(words) - keep)
    body = " ".join(words[start : start + keep])
    if with_opener:
        return f"{rng.choice(OPENERS[language])} {body}."
    return body[0].upper() + body[1:] + "."


def inject(dispatch, rng: random.Random) -> tuple[list[str], set[str]]:
    """The dispatch's sentences with injected copies, and the set of injected texts."""
    sentences = list(dispatch.sentences)
    injected: set[str] = set()
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(sentences))
        original = sentences[index]
        if original in injected:
            continue
        kind = rng.choice(["exact", "punctuation", "clause", "partial"])
        copy = {
            "exact": original,
            "punctuation": repunctuate(original, rng),
            "clause": fragment(original, rng, dispatch.language, with_opener=True),
            "partial": fragment(original, rng, dispatch.language, with_opener=False),
        }[kind]
        if copy and copy not in sentences:
            sentences.insert(rng.randint(index + 1, len(sentences)), copy)
            injected.add(copy)
    return sentences, injected


def sentence_benchmark(docs, seed: int, options: DedupOptions):
    rng = random.Random(seed)
    true_pos = false_pos = false_neg = 0
    elapsed = 0.0
    for number, (language, text) in enumerate(docs):
        base, _, _ = clean(RawDispatch("bench", str(number), text, "text"), SEGMENT_ONLY)
        if base is None or len(base.sentences) < 3:
            continue
        sentences, injected = inject(base, rng)
        dispatch = replace(base, blocks=tuple([type(base.blocks[0])(tuple(sentences))]))
        started = time.perf_counter()
        _, removals = dedup_within(dispatch, options)
        elapsed += time.perf_counter() - started
        removed = {r.text for r in removals}
        true_pos += len(removed & injected)
        false_pos += len(removed - injected)
        false_neg += len(injected - removed)
    return true_pos, false_pos, false_neg, elapsed


def document_benchmark(docs, seed: int, options: DedupOptions):
    rng = random.Random(seed)
    dispatches, original_of = [], {}
    for number, (language, text) in enumerate(docs):
        base, _, _ = clean(RawDispatch("bench", f"doc{number}", text, "text", title=f"Title {number}"), SEGMENT_ONLY)
        if base is None:
            continue
        dispatches.append(base)
        if rng.random() < 0.3:
            paragraphs = text.split("\n\n")
            variant = rng.choice(["headline", "punctuation", "shorter"])
            body = {"headline": text,
                    "punctuation": text.replace(",", "").replace('"', "«"),
                    "shorter": "\n\n".join(paragraphs[: max(2, int(len(paragraphs) * 0.6))])}[variant]
            copy, _, _ = clean(RawDispatch("copy", f"copy{number}", body, "text", title=f"Other {number}"), SEGMENT_ONLY)
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
    tp, fp, fn, seconds = sentence_benchmark(docs, args.seed, options)
    dtp, dfp, dfn, dseconds, count = document_benchmark(docs, args.seed, options)
    print(f"{len(docs)} articles (fr and en), seed {args.seed}; targets: precision >= 0.98, recall >= 0.95\n")
    print("| level | injected | removed right | removed wrong | missed | precision | recall | time per 1,000 dispatches |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| sentence (within a dispatch) | {tp + fn} | {tp} | {fp} | {fn} | {ratio(tp, tp + fp):.3f} | "
          f"{ratio(tp, tp + fn):.3f} | {seconds / len(docs) * 1000:.2f} s |")
    print(f"| dispatch (across a run of {count}) | {dtp + dfn} | {dtp} | {dfp} | {dfn} | {ratio(dtp, dtp + dfp):.3f} | "
          f"{ratio(dtp, dtp + dfn):.3f} | {dseconds / count * 1000:.2f} s |")


if __name__ == "__main__":
    main()
