"""The flow's global stages at 10,000 and 100,000 dispatches (issue 23): what one run that sees every
dispatch of a large day does in the flow's own process, once the pages are cleaned (on any number of
workers).

Dispatches are built like the pipeline bench's pages (bench/pages.py), from the
../shared/bench/summarisation articles, but as cleaned dispatches, not HTML: extraction and cleaning
are what a Dask cluster spreads, and are measured by bench/pipeline.py. The first pass is the articles
themselves; then other outlets' stories on the same events (a third of the event's sentences, in
order, then a third of another article's of the same language), and 5 % republished copies under
another outlet. A large day has more events, not just more outlets on each: beyond five rounds over
the articles, an article stands for a new event whose words of four letters or more are, each with
probability 0.6, renamed for that event (so about as many dispatches cover each event at 10,000 as
at 100,000, ~5 plus copies). Each dispatch's document print (MinHash) is made with it, as the
cleaning workers do. The history is one earlier day of the same size built with another seed
(`digested_around` of a store that kept it).

Each size runs in a fresh process; per stage it prints seconds and the peak resident memory of the
process during the stage (VmHWM, reset before each stage through /proc/self/clear_refs), then the
process's peak and the growth of each stage from the first size to the last.

    .venv/bin/python bench/scale.py [--sizes 10000,100000] [--summarise]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import DUPLICATE_SHARE, OUTLETS, SENTENCE_END, Article, load_articles  # noqa: E402

DAY = date(2026, 11, 27)
ROUNDS_PER_EVENT = 5  # passes over the articles that tell the same events before they stand for new ones
RENAMED = 0.6
LONG_WORD = re.compile(r"\b\w{4,}\b")
STAGES = ("dedup", "history", "cluster", "shared", "summarise")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench" / "summarisation")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--summarise", action="store_true", help="summarise the stories too (in this process)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} is absent: the benchmark builds its dispatches from ../shared/bench/summarisation")
    if args.child:
        print(json.dumps(run_stages(load_articles(args.data), args.child, args.summarise)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        command = [sys.executable, __file__, "--child", str(size), "--data", str(args.data)]
        # The child's stage lines go to stderr as they end: a long run shows where it is.
        child = subprocess.run(command + (["--summarise"] if args.summarise else []), stdout=subprocess.PIPE, text=True)
        if child.returncode:
            sys.exit(f"N = {size} failed (its error above)")
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(f"N = {size:,}: {sum(rows[-1]['seconds'].values()):.1f} s", file=sys.stderr)
    print_table(rows)


def build_dispatches(articles: list[Article], count: int, seed: int, events_from: int = 0) -> list:
    """`count` cleaned dispatches, as the pipeline bench's pages would give them (see the docstring);
    their events numbered from `events_from` (another day's events: another number)."""
    from tasks.clean import fingerprint
    from tasks.models import Block, Dispatch

    rng = random.Random(seed)
    by_lang = {lang: [n for n, a in enumerate(articles) if a.lang == lang] for lang in {a.lang for a in articles}}
    outlets = {lang: [name for name, language in OUTLETS if language == lang] for lang in by_lang}
    sentences = [[s for p in a.paragraphs for s in SENTENCE_END.split(p)] for a in articles]
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    made: list = []
    for n in range(count):
        if made and rng.random() < DUPLICATE_SHARE:
            earlier = made[rng.randrange(len(made))]
            made.append(
                Dispatch(
                    earlier.id,
                    "Agence " + earlier.source,
                    f"bench:{n}",
                    earlier.blocks,
                    earlier.language,
                    earlier.title,
                    earlier.published,
                    f"https://agence.example/{n}",
                )
            )
            continue
        number, round_ = n % len(articles), n // len(articles)
        event = round_ // ROUNDS_PER_EVENT + events_from
        article = articles[number]
        if round_ % ROUNDS_PER_EVENT == 0:
            paragraphs = [SENTENCE_END.split(p) for p in article.paragraphs]
        else:  # another outlet on the same event: a third of its sentences, then reporting of its own
            other = rng.choice(by_lang[article.lang])
            paragraphs = [_third(sentences[number], rng, True), _third(sentences[other], rng, False)]
        title = _renamed(article.title, event)
        blocks = tuple(Block(tuple(_renamed(s, event) for s in p if s.strip())) for p in paragraphs if p)
        text = "\n\n".join(b.text for b in blocks)
        outlet = rng.choice(outlets[article.lang])
        made.append(
            Dispatch(
                fingerprint(text),
                outlet,
                f"bench:{n}",
                blocks,
                article.lang,
                title,
                start + timedelta(minutes=rng.randrange(20 * 60)),
                f"https://outlet.example/{n}",
            )
        )
    return made


def _third(sentences: list[str], rng: random.Random, first: bool) -> list[str]:
    return [s for n, s in enumerate(sentences) if (first and n == 0) or rng.random() < 0.3]


def _renamed(text: str, event: int) -> str:
    """The text of event `event` of its article: its long words renamed for that event, each with probability
    `RENAMED` (the same word gets the same name throughout the event)."""
    if not event:
        return text

    def rename(match: re.Match) -> str:
        word = match.group(0)
        chooser = random.Random(f"{event}:{word.casefold()}")
        return (
            word + "".join(chooser.choice("aeiou") + chooser.choice("bdklmnrstv") for _ in range(2))
            if chooser.random() < RENAMED
            else word
        )

    return LONG_WORD.sub(rename, text)


def run_stages(articles: list[Article], size: int, summarise: bool) -> dict:
    """In a fresh process: build the day and the history, then time each global stage as the flow runs it."""
    from flows.settings import Settings
    from tasks.cluster import cluster
    from tasks.dedup import DocumentPrint, dedup_across, dedup_history, shared_in_stories
    from tasks.store import Seen

    settings = Settings.model_validate({"sources": [{"name": "bench", "path": "."}]})
    started = time.perf_counter()
    dispatches = build_dispatches(articles, size, seed=7)
    prints = {d.id: DocumentPrint.of(d) for d in dispatches}
    # The day before: its own events, and 2 % of today's dispatches (carried again by today's sources).
    earlier = build_dispatches(articles, size, seed=11, events_from=10**6)
    earlier = list({d.id: d for d in earlier + dispatches[::50]}.values())
    seen = [
        Seen(d.id, d.title, DAY - timedelta(days=1), (prints.get(d.id) or DocumentPrint.of(d)).packed())
        for d in earlier
    ]
    del earlier
    built = time.perf_counter() - started
    print(f"N = {size:,}: built in {built:.0f} s", file=sys.stderr, flush=True)
    seconds, peaks = {}, {}

    def stage(name: str, work):
        _reset_peak()
        began = time.perf_counter()
        result = work()
        seconds[name] = time.perf_counter() - began
        peaks[name] = _memory_mb("VmHWM")
        print(f"N = {size:,}, {name}: {seconds[name]:.1f} s, peak {peaks[name]:.0f} MB", file=sys.stderr, flush=True)
        return result

    kept, _ = stage("dedup", lambda: dedup_across(dispatches, settings.dedup, prints))
    kept, _ = stage("history", lambda: dedup_history(kept, seen, settings.dedup, prints))
    now = max(d.published for d in kept)
    stories = stage("cluster", lambda: cluster(kept, settings.cluster, now))
    stage("shared", lambda: shared_in_stories(stories, settings.dedup))
    if summarise:
        from tasks.summarise import summarise_batch

        stage("summarise", lambda: summarise_batch(stories, settings.summary, settings.dedup))
    sizes = sorted((len(s.dispatches) for s in stories), reverse=True)
    return {
        "size": size,
        "kept": len(kept),
        "seen": len(seen),
        "stories": len(stories),
        "largest": sizes[:3],
        "built": built,
        "seconds": seconds,
        "peak_mb": peaks,
        "process_peak_mb": _memory_mb("VmPeak_HWM"),
    }


def _reset_peak() -> None:
    """The process's peak resident memory (VmHWM) set back to what it holds now (Linux 4.0+)."""
    global _HIGHEST
    _HIGHEST = max(_HIGHEST, _memory_mb("VmHWM"))
    Path("/proc/self/clear_refs").write_text("5")


_HIGHEST = 0.0


def _memory_mb(field: str) -> float:
    if field == "VmPeak_HWM":  # the highest VmHWM over the run, across the resets
        return max(_HIGHEST, _memory_mb("VmHWM"))
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith(f"{field}:"))


def print_table(rows: list[dict]) -> None:
    stages = [s for s in STAGES if s in rows[0]["seconds"]]
    print(
        "| stage | "
        + " | ".join(f"N = {r['size']:,}: s | peak MB" for r in rows)
        + (" | time growth |" if len(rows) > 1 else " |")
    )
    print("|---|" + "---|---|" * len(rows) + ("---|" if len(rows) > 1 else ""))
    for name in [*stages, "total"]:
        cells = []
        for row in rows:
            if name == "total":
                cells.append(f"{sum(row['seconds'].values()):.1f} | {row['process_peak_mb']:.0f}")
            else:
                cells.append(f"{row['seconds'][name]:.1f} | {row['peak_mb'][name]:.0f}")
        total = [sum(r["seconds"].values()) if name == "total" else r["seconds"][name] for r in (rows[0], rows[-1])]
        growth = f" | {total[1] / total[0]:.1f}x for {rows[-1]['size'] / rows[0]['size']:g}x" if len(rows) > 1 else ""
        print(f"| {name} | " + " | ".join(cells) + growth + " |")
    print()
    for row in rows:
        print(
            f"N = {row['size']:,}: kept {row['kept']:,} after dedup and history ({row['seen']:,} dispatches in the "
            f"history), {row['stories']:,} stories (largest: {', '.join(map(str, row['largest']))}); "
            f"built in {row['built']:.0f} s (not counted)"
        )
    print(
        f"Machine: {__import__('os').cpu_count()} CPUs, Python {sys.version.split()[0]}. Peak MB: the process's "
        "resident peak during the stage (it holds the day's dispatches, prints and history throughout)."
    )


if __name__ == "__main__":
    main()
