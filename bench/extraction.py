"""Main-text extraction benchmark: the project's extractor beside trafilatura (and readability-lxml).

    .venv/bin/python bench/extraction.py [--data DIR] [--limit N] [--only NAME ...] [--pages OUT.jsonl]

Data: gzipped JSON lines {"dataset", "id", "html", "text"} (see ../shared/bench/extraction/README.md).
Metric (the README's, i.e. the AEB repository's aggregation): bag of whitespace tokens (str.split(),
case kept, multiset overlap); precision averaged over pages with non-empty output, recall over all
pages, F1 the harmonic mean of the two averages. On L3S-GN1 every character above U+00FF in the
output becomes "?" before scoring (its annotated copies did the same). Speed is pages per second of
CPU time of the one thread that extracts, the process pinned to one core (robust to other load on
the machine), after a warm-up on pages of the other set; each extractor runs over a whole set before
the next one starts; the last column divides an extractor's speed by plain trafilatura's on the same
pages in the same run. readability-lxml gets a row when it is importable (it is not a dependency).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETS = (("AEB", "aeb.dev.jsonl.gz", False), ("L3S-GN1", "l3s-gn1.dev.jsonl.gz", True))
ABOVE_LATIN1 = re.compile(r"[^\x00-\xff]")
WARM_UP = 10  # pages of the other set each extractor reads, unscored and untimed, before a set
PLAIN = "trafilatura `extract(html)`"  # the speed reference


def load(path: Path, limit: int | None) -> list[dict]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def page_scores(pred: str, truth: str) -> tuple[float | None, float]:
    """(precision or None when the output is empty, recall) of one page, bag of whitespace tokens."""
    p, t = Counter(pred.split()), Counter(truth.split())
    overlap = sum((p & t).values())
    n_pred, n_true = sum(p.values()), sum(t.values())
    precision = overlap / n_pred if n_pred else None
    recall = overlap / n_true if n_true else (1.0 if not n_pred else 0.0)
    return precision, recall


def aggregate(scores: list[tuple[float | None, float]]) -> tuple[float, float, float, int]:
    precisions = [p for p, _ in scores if p is not None]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(r for _, r in scores) / len(scores) if scores else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, len(scores) - len(precisions)


# --- extractors -------------------------------------------------------------------------------


def _html_to_text(fragment: str) -> str:
    """Text of an HTML fragment, a line per block element (as readability-lxml users do)."""
    import lxml.html

    from tasks.extract import block_text

    return block_text(lxml.html.fromstring(fragment)) if fragment.strip() else ""


def extractors() -> dict[str, Callable[[str], str]]:
    import trafilatura

    from tasks.clean import CleaningRules, clean
    from tasks.extract import extract_html
    from tasks.models import RawDispatch

    rules = CleaningRules()

    def project(html: str) -> str:
        return extract_html(html)[0]

    def project_dated(html: str) -> str:  # the caller has the date (feeds, sitemaps, e-mail)
        return extract_html(html, need_date=False)[0]

    def project_cleaned(html: str) -> str:
        dispatch, _, _ = clean(RawDispatch(source="bench", location="bench", body=html, kind="html"), rules)
        return "\n".join(block.text for block in dispatch.blocks) if dispatch else ""

    found = {
        "project `extract_html`": project,
        "project `extract_html(need_date=False)`": project_dated,
        "project, after `clean` (headings kept)": project_cleaned,
        PLAIN: lambda html: trafilatura.extract(html) or "",
        "trafilatura `include_comments=False, include_tables=False`": lambda html: (
            trafilatura.extract(html, include_comments=False, include_tables=False) or ""
        ),
    }
    try:  # the copy of readability bundled with trafilatura (what tasks.extract checks against)
        from tasks.extract import _parse, _readability_text

        def bundled(html: str) -> str:
            tree = _parse(html)
            return _readability_text(tree) if tree is not None else ""

        found["readability, trafilatura's bundled copy (comments pruned)"] = bundled
    except ImportError:  # pragma: no cover
        pass
    try:  # readability-lxml, when installed (not a project dependency)
        from readability import Document

        found["readability-lxml"] = lambda html: _html_to_text(Document(html).summary(html_partial=True))
    except ImportError:
        pass
    return found


# --- run --------------------------------------------------------------------------------------


def run(
    name: str, fn: Callable[[str], str], rows: list[dict], latin1: bool, warm: list[dict]
) -> tuple[list, float, list[str]]:
    for row in warm:  # warm-up on pages of the other set: imports, lazily built tables, date parser locales
        fn(row["html"])
    outputs, cpu = [], 0.0
    for row in rows:
        start = time.thread_time()
        try:
            text = fn(row["html"]) or ""
        except Exception as exc:  # an extractor crash is an empty page, not a dead benchmark
            print(f"  {name} failed on {row['id']}: {exc!r}", file=sys.stderr)
            text = ""
        cpu += time.thread_time() - start
        outputs.append(ABOVE_LATIN1.sub("?", text) if latin1 else text)
    scores = [page_scores(out, row["text"]) for out, row in zip(outputs, rows)]
    return scores, len(rows) / cpu if cpu else float("inf"), outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench" / "extraction")
    parser.add_argument("--limit", type=int, default=None, help="first N pages of each set")
    parser.add_argument("--only", nargs="*", default=None, help="extractor names containing one of these words")
    parser.add_argument("--pages", type=Path, default=None, help="write per-page scores and outputs (JSON lines)")
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import logging

    logging.disable(logging.ERROR)  # trafilatura logs every discarded or unparsable page

    available = extractors()
    if args.only:
        available = {k: v for k, v in available.items() if any(w.lower() in k.lower() for w in args.only)}
    results: dict[tuple[str, str], tuple] = {}
    page_log = args.pages.open("w", encoding="utf-8") if args.pages else None
    data = {name: load(args.data / filename, args.limit) for name, filename, _ in SETS}
    for set_name, _, latin1 in SETS:
        rows = data[set_name]
        warm = [row for other, pages in data.items() if other != set_name for row in pages[:WARM_UP]]
        for name, fn in available.items():
            scores, speed, outputs = run(name, fn, rows, latin1, warm)
            results[(name, set_name)] = (*aggregate(scores), len(rows), speed)
            print(f"  {set_name:8} {name}: F1 {results[(name, set_name)][2]:.3f}", file=sys.stderr)
            if page_log:
                for row, (p, r), out in zip(rows, scores, outputs):
                    page_log.write(
                        json.dumps(
                            {
                                "set": set_name,
                                "extractor": name,
                                "id": row["id"],
                                "precision": p,
                                "recall": r,
                                "output": out,
                            }
                        )
                        + "\n"
                    )
    if page_log:
        page_log.close()

    print(
        "| extractor | set | precision | recall | F1 | empty pages | pages/s (one core) | speed / plain trafilatura |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in available:
        for set_name, _, _ in SETS:
            p, r, f1, empty, n, speed = results[(name, set_name)]
            plain = results.get((PLAIN, set_name))
            ratio = f"{speed / plain[-1]:.2f}" if plain else "-"
            print(f"| {name} | {set_name} | {p:.3f} | {r:.3f} | {f1:.3f} | {empty} / {n} | {speed:.0f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
