"""Fetch and extract N local pages served over HTTP on 127.0.0.1, and print pages per second.

Pages are the HTML of ../shared/bench/extraction (cycled to N). Fetching uses the
project's Fetcher (one pooled client, retries, caps); extraction the cleaning stage.

    .venv/bin/python bench/fetch.py [--pages 500] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.clean import CleaningRules, clean  # noqa: E402
from tasks.fetch import Fetcher, FetchOptions  # noqa: E402
from tasks.sources import SourceSpec, read_source  # noqa: E402
from tests.http_server import FixtureServer, Reply  # noqa: E402


def pages(data: Path, count: int) -> list[bytes]:
    html = []
    for name in ("aeb.dev.jsonl.gz", "l3s-gn1.dev.jsonl.gz"):
        with gzip.open(data / name, "rt", encoding="utf-8") as stream:
            html += [json.loads(line)["html"].encode("utf-8") for line in stream]
    return [html[i % len(html)] for i in range(count)]


async def fetch_all(spec: SourceSpec, options: FetchOptions):
    async with Fetcher(options) as fetcher:
        return await read_source(spec, fetcher, {}, date.today())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench" / "extraction")
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} is absent: the benchmark reads the pages of ../shared/bench/extraction")
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    bodies = pages(args.data, args.pages)
    options = FetchOptions(concurrency=args.concurrency, per_host=args.concurrency, host_delay=0, robots=False)
    with FixtureServer() as server:
        for n, body in enumerate(bodies):
            server.routes[f"/p{n}"] = Reply(200, body)
        spec = SourceSpec(
            name="bench",
            kind="urls",
            urls=[server.url(f"/p{n}") for n in range(len(bodies))],
            local=True,
            max_items=len(bodies),
        )
        started = time.perf_counter()
        result = asyncio.run(fetch_all(spec, options))
        fetched = time.perf_counter() - started
    started = time.perf_counter()
    kept = sum(clean(raw, CleaningRules())[0] is not None for raw in result.raws)
    extracted = time.perf_counter() - started
    total = fetched + extracted
    print("| pages | concurrency | fetched | failures | fetch pages/s | extracted | extract pages/s | total pages/s |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {len(bodies)} | {args.concurrency} | {len(result.raws)} | {len(result.failures)} | "
        f"{len(result.raws) / fetched:.0f} | {kept} | {len(result.raws) / extracted:.1f} | {len(result.raws) / total:.1f} |"
    )


if __name__ == "__main__":
    main()
