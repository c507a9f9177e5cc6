"""Story clustering benchmark (issue 18): B-cubed on the dev set, two baselines, time at 1,000 and 10,000.

The dev set, ../shared/bench/clustering/dev.jsonl (its README): 20 MultiLing story lines (10 English
and 10 French, 10 articles each, the French ones translations of the English) among 300 single-article
distractors (BBC News, OrangeSum). Articles become dispatches as `digest cluster` makes them.

- B-cubed precision, recall and F1 (Bagga and Baldwin 1998) on all 500, and on the story lines alone
  (the MultiLing articles, scored within the clustering of all 500);
- cross-language: the story lines scored with an English and a French article of one topic as one
  event, with `cluster.cross_language` off (the default) and on;
- baselines on the same dispatches: TF-IDF cosine (stems, no stop words, sublinear tf) with a single
  pass joining the closest centroid at 0.2 (the project's clustering before issue 18), and
  average-link agglomerative clustering of the same vectors at its best threshold on the set;
- where the errors lie: the mean cosine inside each story that joins several gold events, and
  between each two stories that split one story line;
- candidate recall (issue 23): the share of each dispatch's exact `NEIGHBOURS` closest pairs (every
  pair's product, as the clustering computed them before it had candidates) that `candidates` puts
  forward, all of them and those at the threshold;
- robustness: `cluster.threshold` tuned on one language's half of the set, scored on the other's,
  and F1 over a range of thresholds around the default;
- time to cluster 1,000 and 10,000 dispatches of the pipeline benchmark's pages (bench/pages.py),
  read from each page's markup (title, body paragraphs, published time) rather than extracted.

    .venv/bin/python bench/clustering.py [--data FILE] [--sizes 1000 10000] [--no-split]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tasks.cluster as clustering  # noqa: E402
from bench.pages import build_pages, load_articles  # noqa: E402
from flows.stages import SEGMENT_ONLY, _dispatch  # noqa: E402
from tasks.cluster import ClusterOptions, cluster  # noqa: E402
from tasks.language import bundle, words  # noqa: E402
from tasks.models import Block, Dispatch, parse_datetime  # noqa: E402

DATA = ROOT.parent / "shared" / "bench" / "clustering" / "dev.jsonl"
SUMMARISATION = ROOT.parent / "shared" / "bench" / "summarisation"
STORY_LINE = "multiling"
THRESHOLDS = [round(0.05 + 0.01 * n, 2) for n in range(16)]  # 0.05 .. 0.20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--no-split", action="store_true", help="skip the threshold sweeps (faster)")
    args = parser.parse_args()
    records = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()]
    dispatches = [d for n, r in enumerate(records, start=1) if (d := _dispatch(n, r, "text", SEGMENT_ONLY))]
    gold = {r["id"]: r["event"] for r in records}
    options = ClusterOptions()
    print(f"{len(dispatches)} dispatches, {len(set(gold.values()))} events; options: {options.model_dump()}")

    rows = [("digest cluster", _timed_groups(lambda: _project(dispatches, options)))]
    rows.append(
        (
            "digest cluster, cross_language",
            _timed_groups(lambda: _project(dispatches, options.model_copy(update={"cross_language": True}))),
        )
    )
    vectors = tfidf(dispatches)
    rows.append(("TF-IDF single-pass centroid 0.2", _timed_groups(lambda: single_pass(vectors, dispatches, 0.2))))
    best = max(THRESHOLDS, key=lambda t: bcubed(average_link(vectors, dispatches, t), gold)[2])
    rows.append(
        (f"TF-IDF average-link at its best ({best})", _timed_groups(lambda: average_link(vectors, dispatches, best)))
    )
    print("\nB-cubed P / R / F1; 'across languages': a topic's English and French articles are one event.\n")
    print("| clustering | all 500 | story lines | all 500, across languages | story lines, across languages | s |")
    print("|---|---|---|---|---|---|")
    for name, (groups, seconds) in rows:
        print(
            f"| {name} | {_prf(bcubed(groups, gold))} | {_prf(bcubed(groups, gold, STORY_LINE))} | "
            f"{_prf(bcubed(groups, _topics(gold)))} | {_prf(bcubed(groups, _topics(gold), STORY_LINE))} | "
            f"{seconds:.2f} |"
        )

    print()
    errors(dispatches, gold, rows[0][1][0], options)
    candidate_recall("dev set", dispatches, options)
    if not args.no_split:
        robustness(dispatches, gold, options)
    if args.sizes:
        timing(args.sizes, options)


def errors(dispatches: list[Dispatch], gold: dict[str, str], groups: list[list[str]], options: ClusterOptions) -> None:
    """Where the project's errors lie, in the cosine it clusters on (`tasks.cluster.vectorise`): the
    mean over all pairs inside each story that joins articles of several gold events (a precision
    loss), and between each two stories that split one story line (a recall loss, stories of two
    or more only). A similarity-based clustering can separate the two only where the first figures
    lie above the second."""
    vectors, _ = clustering.vectorise(dispatches, options)
    row = {d.id: n for n, d in enumerate(dispatches)}
    similarity = (vectors @ vectors.T).toarray()
    mixed = [[row[i] for i in group] for group in groups if len({gold[i] for i in group}) > 1]
    joined = [float(similarity[np.ix_(rows, rows)][np.triu_indices(len(rows), 1)].mean()) for rows in mixed]
    parts: dict[str, list[list[int]]] = {}
    for group in groups:
        for event in {gold[i] for i in group if i.startswith(STORY_LINE)}:
            parts.setdefault(event, []).append([row[i] for i in group if gold[i] == event])
    split = [
        float(similarity[np.ix_(a, b)].mean())
        for pieces in parts.values()
        for n, a in enumerate(pieces)
        for b in pieces[n + 1 :]
        if len(a) > 1 and len(b) > 1
    ]
    print("Errors of `digest cluster` in its own cosine (all pairs' mean; median, range):")
    for what, values in (
        ("inside a story of several gold events", joined),
        ("between two stories of one story line", split),
    ):
        if values:
            print(f"- {what}: {len(values)}, median {np.median(values):.3f}, {min(values):.3f}-{max(values):.3f}")
    print()


def _project(dispatches: list[Dispatch], options: ClusterOptions) -> list[list[str]]:
    return [[d.id for d in story.dispatches] for story in cluster(dispatches, options)]


def _timed_groups(run) -> tuple[list[list[str]], float]:
    start = time.perf_counter()
    groups = run()
    return groups, time.perf_counter() - start


def _prf(scores: tuple[float, float, float]) -> str:
    return " / ".join(f"{s:.3f}" for s in scores)


def _topics(gold: dict[str, str]) -> dict[str, str]:
    """Gold events with the language left out of the story lines': a topic's English and French articles are one."""
    return {i: re.sub(r"^multiling2011_(en|fr)/", "multiling2011/", e) for i, e in gold.items()}


def bcubed(groups: list[list[str]], gold: dict[str, str], only: str | None = None) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 over the articles whose id starts with `only` (all by default)."""
    event_size: dict[str, int] = {}
    for event in gold.values():
        event_size[event] = event_size.get(event, 0) + 1
    precision, recall = [], []
    for group in groups:
        events = [gold[i] for i in group]
        for i, event in zip(group, events):
            if only and not i.startswith(only):
                continue
            same = events.count(event)
            precision.append(same / len(group))
            recall.append(same / event_size[event])
    p, r = float(np.mean(precision)), float(np.mean(recall))
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def tfidf(dispatches: list[Dispatch]) -> sparse.csr_matrix:
    """Plain L2-normalised TF-IDF rows: stems of the title and text, stop words out, sublinear tf, smooth idf."""
    vocabulary: dict[str, int] = {}
    rows, cols, values = [], [], []
    for row, dispatch in enumerate(dispatches):
        lang = bundle(dispatch.language)
        counts: dict[int, int] = {}
        for word in words(" ".join(filter(None, [dispatch.title, dispatch.text]))):
            lowered = word.lower()
            if lowered in lang.stop_words or len(lowered) < 2 or lowered.isdigit():
                continue
            term = vocabulary.setdefault(lang.stem(lowered), len(vocabulary))
            counts[term] = counts.get(term, 0) + 1
        rows.extend([row] * len(counts))
        cols.extend(counts)
        values.extend(1 + np.log(list(counts.values())))
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(dispatches), len(vocabulary)))
    idf = np.log((1 + len(dispatches)) / (1 + np.bincount(matrix.indices, minlength=matrix.shape[1]))) + 1
    weighted = sparse.csr_matrix(matrix.multiply(idf))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(1 / np.maximum(norms, 1e-12)) @ weighted)


def single_pass(vectors: sparse.csr_matrix, dispatches: list[Dispatch], threshold: float) -> list[list[str]]:
    """Each dispatch, in (published, id) order, joins the same-language story whose centroid is closest, at
    `threshold` or more, else starts one."""
    order = sorted(
        range(len(dispatches)),
        key=lambda i: (dispatches[i].published is None, dispatches[i].published or 0, dispatches[i].id),
    )
    dense = vectors.toarray()
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for index in order:
        best, best_similarity = None, threshold
        for story, total in enumerate(sums):
            if dispatches[members[story][0]].language != dispatches[index].language:
                continue
            similarity = float(dense[index] @ total) / (np.linalg.norm(total) or 1)
            if similarity >= best_similarity:
                best, best_similarity = story, similarity
        if best is None:
            sums.append(dense[index].copy())
            members.append([index])
        else:
            sums[best] += dense[index]
            members[best].append(index)
    return [[dispatches[i].id for i in group] for group in members]


def average_link(vectors: sparse.csr_matrix, dispatches: list[Dispatch], threshold: float) -> list[list[str]]:
    """Average-link agglomerative clustering on cosine distance, cut where the mean similarity falls below
    `threshold`; dispatches of two languages never share a story."""
    similarity = (vectors @ vectors.T).toarray()
    languages = np.array([d.language for d in dispatches])
    similarity[languages[:, None] != languages[None, :]] = 0
    distance = np.clip(1 - similarity, 0, None)
    condensed = distance[np.triu_indices(len(dispatches), k=1)]
    labels = fcluster(linkage(condensed, method="average"), t=1 - threshold, criterion="distance")
    groups: dict[int, list[str]] = {}
    for dispatch, label in zip(dispatches, labels):
        groups.setdefault(int(label), []).append(dispatch.id)
    return list(groups.values())


def exact_neighbours(dispatches: list[Dispatch], options: ClusterOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, similarity): each dispatch's `NEIGHBOURS` closest (at the edge floor, one language, time
    factor applied) from every pair's product, in the clustering's order: what it kept before candidates."""
    ordered = sorted(dispatches, key=clustering._order_key)
    vectors, _ = clustering.vectorise(ordered, options)
    languages = np.array([d.language for d in ordered])
    times = clustering._times(ordered)
    floor = clustering.EDGE_SHARE * options.threshold
    product = sparse.coo_matrix(vectors @ vectors.T)
    i, j, s = product.row, product.col, product.data
    keep = (i != j) & (languages[i] == languages[j])
    i, j, s = i[keep], j[keep], s[keep] * clustering._time_factor(times[i[keep]], times[j[keep]], options.span_hours)
    keep = s >= floor
    i, j, s = i[keep], j[keep], s[keep]
    order = np.lexsort((j, -s, i))
    i, j, s = i[order], j[order], s[order]
    kept = np.arange(len(i)) - np.searchsorted(i, i) < clustering.NEIGHBOURS
    return i[kept], j[kept], s[kept]


def candidate_recall(name: str, dispatches: list[Dispatch], options: ClusterOptions) -> None:
    """The share of the exact closest pairs (`exact_neighbours`) that `candidates` puts forward."""
    ordered = sorted(dispatches, key=clustering._order_key)
    count = len(ordered)
    i, j, similarity = exact_neighbours(ordered, options)
    vectors, _ = clustering.vectorise(ordered, options)
    codes_of: dict[str, int] = {}
    languages = np.array([codes_of.setdefault(d.language, len(codes_of)) for d in ordered])
    ci, cj = clustering.candidates(vectors, languages, clustering._times(ordered), options.span_hours)
    found = np.isin(np.minimum(i, j).astype(np.int64) * count + np.maximum(i, j), ci.astype(np.int64) * count + cj)
    close = similarity >= options.threshold
    print(
        f"candidates on the {name}: {len(ci):,} pairs of {count * (count - 1) // 2:,} ({len(ci) / count:.1f} a "
        f"dispatch); recall of the exact {clustering.NEIGHBOURS} closest: {found.mean():.3f} of {len(found):,}, "
        f"at the threshold {found[close].mean():.3f} of {close.sum():,}"
    )


def robustness(dispatches: list[Dispatch], gold: dict[str, str], options: ClusterOptions) -> None:
    """F1 of each language's half over a range of thresholds; the threshold tuned on one half, scored on the other."""
    halves = {lang: [d for d in dispatches if d.language == lang] for lang in ("en", "fr")}
    curves: dict[str, dict[float, tuple[float, float, float]]] = {}
    for lang, half in halves.items():
        curves[lang] = {}
        for threshold in THRESHOLDS:
            groups = _project(half, options.model_copy(update={"threshold": threshold}))
            _, _, f1 = bcubed(groups, gold)
            p, r, _ = bcubed(groups, gold, STORY_LINE)
            curves[lang][threshold] = (f1, p, r)
    print("\nF1 of each half (all its articles; story lines P / R) by `cluster.threshold`:\n")
    print("| threshold | English half F1 | story lines P / R | French half F1 | story lines P / R |")
    print("|---|---|---|---|---|")
    for threshold in THRESHOLDS:
        en, fr = curves["en"][threshold], curves["fr"][threshold]
        mark = " (default)" if abs(threshold - options.threshold) < 1e-9 else ""
        print(
            f"| {threshold}{mark} | {en[0]:.3f} | {en[1]:.3f} / {en[2]:.3f} | {fr[0]:.3f} | {fr[1]:.3f} / {fr[2]:.3f} |"
        )
    for tuned, checked in (("en", "fr"), ("fr", "en")):
        best = max(THRESHOLDS, key=lambda t: (curves[tuned][t][0], -t))
        print(
            f"\ntuned on {tuned}: threshold {best} (F1 {curves[tuned][best][0]:.3f}); on {checked} at it: "
            f"F1 {curves[checked][best][0]:.3f} (its own best: "
            f"{max(c[0] for c in curves[checked].values()):.3f})"
        )


def pipeline_dispatches(size: int) -> list[Dispatch]:
    """The pipeline benchmark's `size` pages as dispatches: each page's <h1>, its article body's paragraphs
    and its published time, as extraction reads them."""
    pages = build_pages(load_articles(SUMMARISATION), size, "2026-11-27")
    out = []
    for n, page in enumerate(pages):
        title = html.unescape(re.search(r"<h1>(.*?)</h1>", page).group(1))
        body = re.search(r'<div class="article-body">(.*?)</div>', page, re.S).group(1)
        paragraphs = [html.unescape(p) for p in re.findall(r"<p>(.*?)</p>", body, re.S)]
        outlet = re.search(r'og:site_name" content="([^"]*)"', page).group(1)
        published = re.search(r'article:published_time" content="([^"]*)"', page).group(1)
        language = re.search(r'<html lang="(\w+)"', page).group(1)
        out.append(
            Dispatch(
                id=f"page-{n}",
                source=html.unescape(outlet),
                location=f"https://news.example/{n}",
                blocks=tuple(Block((p,)) for p in paragraphs if p.strip()),
                language=language,
                title=title,
                published=parse_datetime(published),
                url=f"https://news.example/{n}",
            )
        )
    return out


def timing(sizes: list[int], options: ClusterOptions) -> None:
    """Wall time, and this process's CPU time: the machine's other jobs slow the first, not the second."""
    print("\n| dispatches | stories | seconds to cluster (CPU) | wall |\n|---|---|---|---|")
    for size in sizes:
        dispatches = pipeline_dispatches(size)
        start, cpu = time.perf_counter(), time.process_time()
        stories = cluster(dispatches, options)
        print(
            f"| {size:,} | {len(stories):,} | {time.process_time() - cpu:.2f} | {time.perf_counter() - start:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
