"""Sentence-splitting benchmark: pysbd as patched here, sentencex, and the project's rules, on messy text.

A test set from the dev articles of ../shared/bench/summarisation (French and English): each
paragraph of two sentences or more whose sentences pysbd and sentencex agree on (an unambiguous
reference) is joined again, then perturbed as scraped text is, with a fixed seed: at each sentence
boundary, with even chances, nothing, glued (`chacun".Appel`), a space before the end (`justice" .Les`,
`dollars . It`), or a quotation mark added or dropped (a quote opened and never closed, or closed
sentences later); inside sentences, a space before a comma (`30 ,000`) and doubled spaces.

Each splitter cuts every perturbed paragraph; a boundary found is right when a reference sentence
starts there. Boundary precision, recall and F1, the share of paragraphs cut exactly right, the same
on the clean paragraphs, and the time to split 1,000 dispatches (every paragraph of an article,
perturbed, one core) are printed, all splitters in one run.

    .venv/bin/python bench/segmentation.py [--data DIR] [--limit N] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentencex import segment as sentencex_segment  # noqa: E402

from tasks.language import bundle  # noqa: E402

Splitter = Callable[[str, str], list[str]]
SPLITTERS: dict[str, Splitter] = {
    "pysbd alone, patched (tasks/compat.py)": lambda code, text: bundle(code).segments(text),
    "sentencex": lambda code, text: [s.strip() for s in sentencex_segment(code, text) if s.strip()],
    "project rules (pysbd + resplit)": lambda code, text: bundle(code).sentences(text),
}
QUOTES = '"“”«»'


def paragraphs(data: Path, limit: int | None) -> list[tuple[str, list[list[str]]]]:
    """(language, paragraphs as reference sentences) per article, paragraphs the two splitters agree on."""
    articles = []
    for path in sorted(data.glob("*.dev.jsonl")):
        for line in path.open(encoding="utf-8"):
            record = json.loads(line)
            for doc in record["docs"]:
                articles.append((record["lang"], doc))
    random.Random(1).shuffle(articles)
    out = []
    for code, doc in articles[:limit] if limit else articles:
        agreed = []
        for paragraph in (p.strip() for p in re.split(r"\n\s*\n|\n", doc) if p.strip()):
            reference = bundle(code).segments(paragraph)
            if len(reference) >= 2 and reference == SPLITTERS["sentencex"](code, paragraph):
                agreed.append(reference)
        if agreed:
            out.append((code, agreed))
    return out


def perturb(sentences: list[str], rng: random.Random) -> tuple[str, set[int]]:
    """The paragraph joined and perturbed, and the offsets where its sentences (after the first) start."""
    text, starts = "", set()
    for number, sentence in enumerate(sentences):
        sentence = re.sub(r"(?<=\w),(?=\s|\d)", lambda m: " ," if rng.random() < 0.3 else ",", sentence)
        sentence = re.sub(r"(?<=\w) (?=\w)", lambda m: "  " if rng.random() < 0.05 else " ", sentence)
        if number == 0:
            text = sentence
            continue
        kind = rng.choice(["none", "glued", "spaced", "quote"])
        if kind == "spaced" and text[-1] in ".!?":
            text = text[:-1] + " " + text[-1]
        if kind == "quote":
            marks = [i for i, c in enumerate(text) if c in QUOTES]
            if marks and (rng.random() < 0.5 or sentence[0] in QUOTES):
                drop = rng.choice(marks)
                text = text[:drop] + text[drop + 1 :]
                starts = {start - (start > drop) for start in starts}
            else:
                sentence = '"' + sentence
        separator = "" if kind == "glued" or (kind == "spaced" and rng.random() < 0.5) else " "
        text += separator
        starts.add(len(text))
        text += sentence
    return text, starts


def cut_starts(text: str, pieces: list[str]) -> set[int]:
    """Where each piece after the first starts in `text` (pieces are in order)."""
    starts, position = set(), 0
    for piece in pieces:
        found = text.find(piece, position)
        if found < 0:
            continue
        starts.add(found)
        position = found + len(piece)
    return starts - {min(starts, default=0)}


def measure(split: Splitter, cases: list[tuple[str, str, set[int]]]) -> tuple[float, float, float, float]:
    right = found = expected = exact = 0
    for code, text, starts in cases:
        got = cut_starts(text, split(code, text))
        right += len(got & starts)
        found += len(got)
        expected += len(starts)
        exact += got == starts
    precision, recall = right / max(found, 1), right / max(expected, 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9), exact / max(len(cases), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench" / "summarisation")
    parser.add_argument("--limit", type=int, default=None, help="articles")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    articles = paragraphs(args.data, args.limit)
    rng = random.Random(args.seed)
    clean, messy, by_article = [], [], []
    for code, agreed in articles:
        perturbed = [perturb(sentences, rng) for sentences in agreed]
        messy += [(code, text, starts) for text, starts in perturbed]
        clean += [(code, " ".join(sentences), cut_starts(" ".join(sentences), sentences)) for sentences in agreed]
        by_article.append((code, [text for text, _ in perturbed]))
    print(
        f"{len(articles)} articles, {len(messy)} paragraphs, {sum(len(s) for _, _, s in messy)} boundaries, "
        f"seed {args.seed}\n"
    )
    print(
        "| splitter | perturbed: boundary P | R | F1 | paragraphs exact | clean: paragraphs exact "
        "| time per 1,000 dispatches |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, split in SPLITTERS.items():
        for code in ("en", "fr"):
            split(code, "Warm up. The rules load once.")
        started = time.process_time()
        for code, texts in by_article:
            for text in texts:
                split(code, text)
        seconds = (time.process_time() - started) / len(by_article) * 1000
        precision, recall, f1, exact = measure(split, messy)
        clean_exact = measure(split, clean)[3]
        print(
            f"| {name} | {precision:.3f} | {recall:.3f} | {f1:.3f} | {exact:.3f} | {clean_exact:.3f} | {seconds:.2f} s |"
        )


if __name__ == "__main__":
    main()
