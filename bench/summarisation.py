"""Summarisation benchmark: the default summariser against Lead and sumy baselines, by ROUGE.

    .venv/bin/python bench/summarisation.py [--data DIR] [--limit N] [--methods news,lead-k,...]
        [--settings k,words] [--datasets orangesum,...] [--no-titles] [--no-speed]

Every `*.dev.jsonl` in the data folder (default ../shared/bench/summarisation beside the project;
see ../shared/bench/README.md) goes through the product's own pipeline: each article ->
RawDispatch(kind="text") -> clean -> dedup_within, one Dispatch per article, published in the
record's order (from its `date` when it has one), in the record's language; a single article also
gets the record's title as its headline (--no-titles: not). Every method then sees the same
sentences, through `summarise_dispatches` (Lead-3 and Lead-k, the first sentences of the
date-ordered concatenation, through the same `StoryDocument`).

Two length settings: k = the references' sentence count (pysbd; mean over references rounded half
up, at least 1), and a word budget equal to the references' mean length in words
(`tasks.language.words`, as `WordBudget` counts; the first sentence chosen may exceed it, as
`WordBudget` allows). Scoring as that README says: ROUGE-1/2/L F1 x 100 (rouge-score), English
with its default tokenizer and the Porter stemmer, French with a tokenizer that lower-cases,
NFC-normalises and keeps Unicode letter/digit runs, no stemming; each reference scored on its
own, the scores averaged. Times are CPU time of this process with BLAS on one thread.
"""

from __future__ import annotations

import os

# Timings are for one core: no BLAS threads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rouge_score import rouge_scorer  # noqa: E402
from sumy.summarizers import AbstractSummarizer  # noqa: E402

import tasks.language  # noqa: E402
from tasks.clean import CleaningRules, clean  # noqa: E402
from tasks.compat import best_sentences  # noqa: E402
from tasks.dedup import DedupOptions, dedup_within  # noqa: E402
from tasks.language import SumyTokenizer, bundle, words  # noqa: E402
from tasks.models import Dispatch, RawDispatch, parse_datetime  # noqa: E402
from tasks.summarise import StoryDocument, SummaryOptions, WordBudget, summarise_dispatches  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "summarisation"
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
SUMY = ("lexrank", "textrank", "lsa", "luhn", "sumbasic", "kl", "reduction")
# name shown -> how it runs: ("seq", n) first sentences of the date-ordered concatenation
# (n=None: as many as asked), or ("algo", name) through summarise_dispatches.
METHODS: dict[str, tuple[str, object]] = {
    "news": ("algo", "news"),
    "lead-3": ("seq", 3),
    "lead-k": ("seq", None),
    "lead-rr": ("algo", "lead"),
    **{name: ("algo", name) for name in SUMY},
}
LABELS = {
    "news": "**news (default)**",
    "lead-3": "Lead-3",
    "lead-k": "Lead-k",
    "lead-rr": "Lead round-robin",
    "lexrank": "sumy LexRank",
    "textrank": "sumy TextRank",
    "lsa": "sumy LSA",
    "luhn": "sumy Luhn",
    "sumbasic": "sumy SumBasic",
    "kl": "sumy KL",
    "reduction": "sumy Reduction",
}
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
SPEED_DISPATCHES, SPEED_SENTENCES = 200, 5000


# --- scoring -------------------------------------------------------------------------------


class FrenchTokenizer:
    """rouge-score tokenizer for French: lower-cased, NFC, Unicode letter/digit runs, no stemming.

    rouge-score's default tokenizer keeps [a-z0-9] only, so "été" would become "t".
    """

    TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)

    def tokenize(self, text: str) -> list[str]:
        return self.TOKEN_RE.findall(unicodedata.normalize("NFC", text).lower())


def make_scorer(lang: str) -> rouge_scorer.RougeScorer:
    if lang == "en":
        return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=FrenchTokenizer())


def score(scorer: rouge_scorer.RougeScorer, refs: list[str], summary: str) -> tuple[float, float, float]:
    """F1 x 100 per ROUGE type, averaged over the references."""
    totals = [0.0, 0.0, 0.0]
    for ref in refs:
        result = scorer.score(ref, summary)
        for i, kind in enumerate(ROUGE_TYPES):
            totals[i] += result[kind].fmeasure
    return tuple(100 * t / len(refs) for t in totals)


def reference_lengths(refs: list[str], lang: str) -> tuple[int, int]:
    """(k, words): the references' sentence count (mean rounded half up, >= 1) and mean length in words.

    Sentences by the project's splitter (pysbd), words by `tasks.language.words`, the count the
    word budget (`WordBudget`) uses.
    """
    sentences = [len(bundle(lang).sentences(r)) for r in refs]
    k = max(1, _round(sum(sentences) / len(sentences)))
    budget = max(1, _round(sum(len(words(r)) for r in refs) / len(refs)))
    return k, budget


def _round(value: float) -> int:
    return int(math.floor(value + 0.5))


# --- inputs through the product's pipeline -------------------------------------------------


@dataclass
class Item:
    dataset: str
    id: str
    lang: str
    refs: list[str]
    dispatches: list[Dispatch]
    k: int
    budget: int


def build_dispatches(record: dict, rules: CleaningRules, repeats: DedupOptions, titles: bool = True) -> list[Dispatch]:
    """One cleaned, de-duplicated Dispatch per article, published in the record's order (or date).

    A single-article record's title is the article's headline and goes to the dispatch, as a
    feed's would; a multi-article record's title names the topic, not an article, and is left out.
    """
    base = parse_datetime(record.get("date")) or EPOCH
    single = len(record["docs"]) == 1
    out = []
    for index, doc in enumerate(record["docs"]):
        raw = RawDispatch(
            source=record["dataset"],
            location=f"{record['dataset']}:{record['id']}:{index}",
            body=doc,
            kind="text",
            outlet=f"article {index + 1}",
            title=record.get("title") if single and titles else None,
            published=base + timedelta(minutes=index),
        )
        dispatch, _, failure = clean(raw, rules)
        if failure is None:
            out.append(dedup_within(dispatch, repeats)[0])
    return out


def load(path: Path, limit: int | None, titles: bool = True) -> list[Item]:
    items = []
    repeats = DedupOptions()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if limit is not None and len(items) >= limit:
                break
            record = json.loads(line)
            lang = record["lang"]
            rules = CleaningRules(languages=(lang,), default_language=lang)
            dispatches = build_dispatches(record, rules, repeats, titles)
            if not dispatches:
                print(f"  skipped {record['dataset']}:{record['id']}: no text after cleaning", file=sys.stderr)
                continue
            k, budget = reference_lengths(record["refs"], lang)
            items.append(Item(record["dataset"], record["id"], lang, record["refs"], dispatches, k, budget))
    return items


# --- methods -------------------------------------------------------------------------------


class SequentialLead(AbstractSummarizer):
    """Lead-n / Lead-k: the first sentences of the concatenation, in the order the document has them."""

    def __init__(self, n: int | None):
        super().__init__()
        self.n = n

    def __call__(self, document, sentences_count):
        sentences = list(document.sentences)
        rank = {id(s): i for i, s in enumerate(sentences)}
        count = self.n if self.n is not None else sentences_count
        return best_sentences(sentences, count, lambda s: -rank[id(s)])


def run_method(method: str, item: Item, setting: str) -> list[str]:
    kind, arg = METHODS[method]
    if kind == "seq":
        document = StoryDocument(item.dispatches, SumyTokenizer(item.lang))
        count = item.k if setting == "k" else WordBudget(item.budget)
        return [str(s) for s in SequentialLead(arg)(document, count)]
    if setting == "k":
        options = SummaryOptions(algorithm=arg, sentences=min(item.k, 50))
    else:
        options = SummaryOptions(algorithm=arg, words=min(max(item.budget, 5), 2000))
    return [text for text, _, _ in summarise_dispatches(item.dispatches, options, item.lang)]


@dataclass
class Result:
    scores: list[tuple[float, float, float]] = field(default_factory=list)
    seconds: float = 0.0
    words: int = 0

    def mean(self) -> tuple[float, float, float]:
        n = max(len(self.scores), 1)
        return tuple(sum(s[i] for s in self.scores) / n for i in range(3))


def evaluate(items: list[Item], methods: list[str], settings: list[str]) -> dict[tuple[str, str], Result]:
    results: dict[tuple[str, str], Result] = {}
    if not items:
        return results
    scorer = make_scorer(items[0].lang)
    for setting in settings:
        for method in methods:
            if method == "lead-3" and setting == "words":
                continue  # at a word budget Lead-3 is Lead-k
            result = results.setdefault((method, setting), Result())
            for item in items:
                started = time.process_time()
                summary = run_method(method, item, setting)
                result.seconds += time.process_time() - started
                text = " ".join(summary)
                result.words += len(words(text))
                result.scores.append(score(scorer, item.refs, text))
    return results


# --- speed ---------------------------------------------------------------------------------


def speed_story(files: list[Path]) -> list[Dispatch] | None:
    """~200 dispatches, ~5,000 sentences, one language: articles pooled from the data files."""
    pools: dict[str, list[dict]] = {}
    for path in files:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                pools.setdefault(record["lang"], []).extend(
                    {"dataset": record["dataset"], "id": f"{record['id']}:{i}", "docs": [doc], "lang": record["lang"]}
                    for i, doc in enumerate(record["docs"])
                )
    if not pools:
        return None
    lang, records = max(pools.items(), key=lambda kv: len(kv[1]))
    rules = CleaningRules(languages=(lang,), default_language=lang)
    dispatches: list[Dispatch] = []
    total = 0
    for n, record in enumerate(records):
        [dispatch] = build_dispatches(record, rules, DedupOptions()) or [None]
        if dispatch is None:
            continue
        if len(dispatches) < SPEED_DISPATCHES:
            dispatches.append(replace(dispatch, published=EPOCH + timedelta(minutes=n)))
        else:  # pool further articles into the 200 dispatches until the story has ~5,000 sentences
            j = (n - SPEED_DISPATCHES) % SPEED_DISPATCHES
            dispatches[j] = replace(dispatches[j], blocks=dispatches[j].blocks + dispatch.blocks)
        total += len(dispatch.sentences)
        if len(dispatches) >= SPEED_DISPATCHES and total >= SPEED_SENTENCES:
            break
    return dispatches


def _clear_stem_cache() -> None:
    cached = getattr(tasks.language, "_stem", None)  # the Snowball cache, if the project has one
    if hasattr(cached, "cache_clear"):
        cached.cache_clear()


def speed(files: list[Path], repeat: int = 3) -> str:
    """CPU seconds (this process, BLAS on one thread) to summarise the synthetic story.

    The first run starts with an empty stem cache (as a fresh process would); the others reuse it.
    """
    dispatches = speed_story(files)
    if not dispatches:
        return "speed: no data"
    n_sentences = sum(len(d.sentences) for d in dispatches)
    lang = dispatches[0].language
    lines = []
    for label, options in (("4 sentences", SummaryOptions()), ("250 words", SummaryOptions(words=250))):
        _clear_stem_cache()
        times = []
        for _ in range(repeat):
            started = time.process_time()
            summarise_dispatches(dispatches, options, lang)
            times.append(time.process_time() - started)
        lines.append(f"{label}: {times[0]:.2f} s cold, {min(times[1:] or times):.2f} s warm")
    return (
        f"speed (default summariser, CPU time, one core): one story of {len(dispatches)} dispatches, "
        f"{n_sentences} sentences ({lang}); " + "; ".join(lines)
    )


# --- report --------------------------------------------------------------------------------


def fmt(triple: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.1f}" for v in triple)


def table(datasets: list[tuple[str, list[Item], dict]], methods: list[str], setting: str) -> str:
    header = "| method | " + " | ".join(f"{name} ({items[0].lang})" for name, items, _ in datasets) + " |"
    rows = [header, "|---" * (len(datasets) + 1) + "|"]
    for method in methods:
        if not any((method, setting) in results for _, _, results in datasets):
            continue
        cells = []
        for _, items, results in datasets:
            result = results.get((method, setting))
            if result is None or (method == "lead-rr" and all(len(i.dispatches) == 1 for i in items)):
                cells.append("")
                continue
            cells.append(f"{fmt(result.mean())} ({result.words / len(items):.0f} w)")
        rows.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def timing_table(datasets: list[tuple[str, list[Item], dict]], methods: list[str]) -> str:
    rows = ["| method | " + " | ".join(name for name, _, _ in datasets) + " |", "|---" * (len(datasets) + 1) + "|"]
    for method in methods:
        cells = []
        for _, items, results in datasets:
            result = results.get((method, "k"))
            cells.append("" if result is None else f"{1000 * result.seconds / len(items):.1f}")
        rows.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of *.dev.jsonl files")
    parser.add_argument("--limit", type=int, default=None, help="records per file (first N)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {','.join(METHODS)}")
    parser.add_argument("--settings", default="k,words", help="k, words or both (default)")
    parser.add_argument("--datasets", default=None, help="comma-separated substrings of file names to keep")
    parser.add_argument("--no-speed", action="store_true", help="skip the 200-dispatch speed line")
    parser.add_argument("--no-titles", action="store_true", help="do not give single articles their headline")
    args = parser.parse_args(argv)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods: {', '.join(unknown)}")
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    if not set(settings) <= {"k", "words"}:
        parser.error("--settings takes k, words or k,words")
    files = sorted(args.data.glob("*.dev.jsonl"))
    if args.datasets:
        keep = [s.strip() for s in args.datasets.split(",")]
        files = [f for f in files if any(s in f.name for s in keep)]
    if not files:
        parser.error(f"no *.dev.jsonl in {args.data}")

    datasets = []
    for path in files:
        name = path.name.removesuffix(".dev.jsonl")
        started = time.perf_counter()
        items = load(path, args.limit, titles=not args.no_titles)
        prepared = time.perf_counter() - started
        if not items:
            continue
        results = evaluate(items, methods, settings)
        n_sentences = sum(len(d.sentences) for i in items for d in i.dispatches) / len(items)
        print(
            f"{name}: {len(items)} inputs, {sum(len(i.dispatches) for i in items) / len(items):.1f} articles "
            f"and {n_sentences:.0f} sentences each after clean+dedup ({1000 * prepared / len(items):.0f} ms per input); "
            f"k = {sum(i.k for i in items) / len(items):.1f} sentences, budget = "
            f"{sum(i.budget for i in items) / len(items):.0f} words (means)",
            flush=True,
        )
        datasets.append((name, items, results))

    print("\nROUGE-1 / ROUGE-2 / ROUGE-L F1 x 100 (mean words of the summaries in brackets)")
    if "k" in settings:
        print("\n### k = the references' sentence count\n")
        print(table(datasets, methods, "k"))
    if "words" in settings:
        print("\n### word budget = the references' mean length (no Lead-3 row: at a budget it is Lead-k)\n")
        print(table(datasets, methods, "words"))
    if "k" in settings:
        print("\n### CPU ms per input (k setting, including building the sumy document)\n")
        print(timing_table(datasets, methods))
    if not args.no_speed:
        print("\n" + speed(files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
