"""The whole pipeline, HTML pages to written digest, at N = 100, 1,000 (and 10,000) dispatches.

Pages are built by bench/pages.py from the ../shared/bench/summarisation articles (outlet
templates, other outlets' stories on the same events, 5 % republished copies) and read from
disk (`--mode disk`, a files source) or fetched from a local HTTP server through a sitemap
(`--mode http`). Each size runs the real `daily-digest` flow in a fresh process against a
Prefect server started here, with a fresh store, and prints per stage: seconds and
dispatches per second; then the run's dispatches per second, peak memory (the flow's process,
and with its extraction workers, sampled), and Prefect's share: the run's wall time less the time
spent inside stage code (task runs' run time as Prefect recorded it, plus the stages the flow
runs itself), over the wall time. In the same process, after the run, plain
`trafilatura.extract` runs on a sample of the same pages: the reference cost, and the ratio.

On a Dask cluster (issue 23): `--executor tcp://host:8786` cleans the pages on that cluster's
workers; `--dask-workers 1,2` starts a cluster on 127.0.0.1 for each count in turn (a `dask
scheduler` and that many one-thread `dask worker` processes, as tests/test_dask.py does), runs every
size on each, and prints cleaning's speed-up over the first count (cleaning: the read and clean
stages, which overlap: pages are cleaned as they are read). Peak memory "all" counts the flow's
process and its children: a Dask cluster's workers are not among them.

On real pages (issue 20): `--pages DIR|FILE.jsonl[.gz] ...` (a folder of HTML pages, or crawl dumps
of {"html", "url"} records such as ../shared/bench/extraction/*.dev.jsonl.gz) writes them as one
dump read by a `files` source and runs `digest run` as a user would, the CLI in a fresh process and
the whole wall time counted, three times: with its own temporary Prefect server and a new
PREFECT_HOME (the first run ever: a new database to migrate), again with that home (every later
day), and against a Prefect server already running (PREFECT_API_URL); then plain
`trafilatura.extract` on one core on the same pages, in the same run. It also prints each run's CPU
time (the CLI, its workers and a temporary server), and the floor they set: the CPU time of cleaning the
pages on one core and of importing the flow, which comes before the first page is read.

    .venv/bin/python bench/pipeline.py [--sizes 100,1000,10000] [--mode disk|http] [--workers 0]
                                       [--executor local|tcp://host:8786 | --dask-workers 1,2]
    .venv/bin/python bench/pipeline.py --pages ../shared/bench/extraction/*.dev.jsonl.gz [--executor ...]

`--cleaning-only` with `--dask-workers 1,2` times the Cleaner alone (no Prefect, pages in memory) on
each cluster: wall time, the CPU time of the flow's process and of the workers, and the share of the
wall time each worker spent computing (Dask's task stream). On a loaded machine the wall times say
how much CPU the others left; the workers' computing share says whether the flow kept them fed.

    .venv/bin/python bench/pipeline.py --cleaning-only --dask-workers 1,2 [--sizes 400]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import build_pages, load_articles  # noqa: E402
from flows.prefect_api import free_port  # noqa: E402
from tests.dask_cluster import dask_cluster  # noqa: E402
from tests.http_server import FixtureServer, Reply  # noqa: E402
from tests.prefect_server import prefect_server, wait_for  # noqa: E402

DAY = "2026-11-27"
# Stages the flow runs as Prefect tasks (their code time comes from the task runs) and those it runs itself.
TASK_STAGES = {
    "read-source": "read",
    "clean": "clean",
    "dedup": "dedup",
    "history": "history",
    "cluster": "cluster",
    "shared-paragraphs": "shared",
    "summarise": "summarise",
    "render": "render",
    "write-digest": "write",
}
FLOW_STAGES = ("open", "recover", "store", "close")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench" / "summarisation")
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--mode", choices=("disk", "http"), default="disk")
    parser.add_argument("--workers", type=int, default=0, help="extraction processes; 0: one per CPU")
    parser.add_argument("--reference-pages", type=int, default=300, help="pages for plain trafilatura")
    parser.add_argument("--executor", default="local", help='cleaning.executor: "local" or tcp://host:8786')
    parser.add_argument(
        "--dask-workers",
        help="start a Dask cluster on 127.0.0.1 with each of these worker counts (e.g. 1,2) and run every size on each",
    )
    parser.add_argument("--pages", type=Path, nargs="+", help="real pages: folders of .html, or .jsonl(.gz) dumps")
    parser.add_argument("--cleaning-only", action="store_true", help="time the Cleaner alone on each Dask cluster")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # run one size: its config file
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_flow(args.child, args.reference_pages)))
        return
    if args.pages:
        print_pages(run_pages(args.pages, args))
        return
    if not args.data.exists():
        sys.exit(f"{args.data} is absent: the benchmark builds its pages from ../shared/bench/summarisation")
    articles = load_articles(args.data)
    counts = [int(n) for n in args.dask_workers.split(",")] if args.dask_workers else [None]
    if args.cleaning_only:
        if not args.dask_workers:
            sys.exit("--cleaning-only needs --dask-workers (e.g. 1,2)")
        run_cleaning(articles, [int(s) for s in args.sizes.split(",")], counts)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp, prefect_server(Path(tmp) / "prefect") as env:
        for count in counts:
            cluster = dask_cluster(Path(tmp) / f"dask-{count}", count) if count else nullcontext((args.executor, {}))
            with cluster as (address, _):
                label = f"Dask, {count} worker{'s' if count > 1 else ''}" if count else args.executor
                for size in (int(s) for s in args.sizes.split(",")):
                    pages = build_pages(articles, size, DAY)
                    work = Path(tmp) / f"{count or 'x'}-{size}"
                    rows.append(run_size(pages, work, args, env, address) | {"executor": label})
                    print(f"{label}, N = {size}: done in {rows[-1]['wall']:.1f} s", file=sys.stderr)
    print_tables(rows)


def run_size(pages: list[str], work: Path, args, env: dict[str, str], executor: str) -> dict:
    """Write the config (and pages), run the flow in a fresh process, add Prefect's account of its task runs."""
    work.mkdir(parents=True)
    folder = work / "pages"
    folder.mkdir()
    for number, page in enumerate(pages):
        (folder / f"{number:05d}.html").write_text(page, encoding="utf-8")
    with FixtureServer() as server:
        if args.mode == "http":
            for number, page in enumerate(pages):
                server.routes[f"/a/{number}"] = Reply(
                    200, page.encode("utf-8"), content_type="text/html; charset=utf-8"
                )
            server.routes["/sitemap.xml"] = Reply(
                200, sitemap([server.url(f"/a/{n}") for n in range(len(pages))]), content_type="application/xml"
            )
        config = work / "digest.toml"
        config.write_text(config_text(work, args, len(pages), server.url("/sitemap.xml"), executor), encoding="utf-8")
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(config), "--reference-pages", str(args.reference_pages)],
            env=env | {"PREFECT_LOGGING_LEVEL": "WARNING"},
            cwd=work,
            capture_output=True,
            text=True,
        )
    if child.returncode:
        sys.exit(f"the flow failed at N = {len(pages)}:\n{child.stderr[-3000:]}")
    row = json.loads(child.stdout.strip().splitlines()[-1])
    row["code"] = task_run_seconds(env["PREFECT_API_URL"], row["flow_run"]) + sum(
        row["seconds"].get(stage, 0.0) for stage in FLOW_STAGES
    )
    return row


def config_text(work: Path, args, size: int, sitemap_url: str, executor: str) -> str:
    if args.mode == "pages":
        source = f'kind = "files"\npath = "{work / "pages.jsonl"}"'
    elif args.mode == "disk":
        source = f'kind = "files"\npath = "{work / "pages"}"'
    else:
        source = f'kind = "sitemap"\nurl = "{sitemap_url}"\nlocal = true\nmax_items = {size}'
    return f"""[digest]
out_dir = "{work / "digests"}"
data_dir = "{work / "data"}"

[[sources]]
name = "bench"
{source}

[cleaning]
workers = {args.workers}
executor = "{executor}"

[fetch]
concurrency = 8
per_host = 8
host_delay = 0
robots = false
"""


def sitemap(urls: list[str]) -> bytes:
    items = "".join(f"<url><loc>{u}</loc><lastmod>{DAY}T08:00:00+00:00</lastmod></url>" for u in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'.encode()


def run_flow(config: Path, reference_pages: int) -> dict:
    """In the child: the flow once, then plain trafilatura on the same pages."""
    from datetime import date

    from flows.daily_digest import run_daily_digest

    with MemoryPeak() as memory:
        started = time.perf_counter()
        state = run_daily_digest(date=date.fromisoformat(DAY), config_path=str(config), email=False, return_state=True)
        wall = time.perf_counter() - started
    result = state.result()
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so it would
    # report this benchmark's parent process, which holds every page, when the parent was larger.
    peak_main = _status_mb(os.getpid(), "VmHWM")
    pages = [p.read_text(encoding="utf-8") for p in sorted((config.parent / "pages").glob("*.html"))[:reference_pages]]
    return {
        "size": len(list((config.parent / "pages").glob("*.html"))),
        "wall": wall,
        "flow_run": str(state.state_details.flow_run_id),
        "seconds": result["seconds"],
        "read": result["read"],
        "kept": result["kept"],
        "stories": result["stories"],
        "peak_main_mb": peak_main,
        "peak_total_mb": memory.peak_mb,
        "reference": plain_trafilatura(pages),
    }


class MemoryPeak(threading.Thread):
    """Largest resident memory of this process and its children (extraction workers) together, sampled."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_mb, self._done = 0.0, threading.Event()

    def __enter__(self) -> MemoryPeak:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self._done.wait(0.1):
            rss = sum(_status_mb(pid, "VmRSS") for pid in [os.getpid(), *_children(os.getpid())])
            self.peak_mb = max(self.peak_mb, rss)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def _status_mb(pid: int, field: str) -> float:
    """A memory field of /proc/PID/status (VmRSS: resident now, VmHWM: its peak), in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # it has just exited
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith(f"{field}:")), 0.0)


def plain_trafilatura(bodies: list[str]) -> float:
    """Pages per second of `trafilatura.extract` with its defaults, the reference cost of extraction."""
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    started = time.perf_counter()
    for body in bodies:
        trafilatura.extract(body)
    return len(bodies) / (time.perf_counter() - started)


def task_run_seconds(api: str, flow_run: str) -> float:
    """Time inside the flow run's task runs as Prefect recorded them (the union: read-source runs overlap)."""

    def spans() -> list[tuple[datetime, datetime]]:
        runs = httpx.post(f"{api}/task_runs/filter", json={"flow_runs": {"id": {"any_": [flow_run]}}}, timeout=30)
        return sorted(
            (datetime.fromisoformat(r["start_time"]), datetime.fromisoformat(r["end_time"]))
            for r in runs.json()
            if r["start_time"] and r["end_time"]
        )

    recorded = wait_for(lambda: (found := spans()) and len(found) >= len(TASK_STAGES) and found, 60, "task runs")
    total, reached = 0.0, None
    for start, end in recorded:
        start = max(start, reached or start)
        if end > start:
            total += (end - start).total_seconds()
            reached = end
    return total


def run_cleaning(articles, sizes: list[int], counts: list[int]) -> None:
    """The Cleaner alone on a Dask cluster of each worker count: wall, CPU and the workers' computing share."""
    import asyncio

    from distributed import get_task_stream

    from tasks.clean import Cleaner, CleaningRules
    from tasks.models import RawDispatch

    def cpu_seconds(pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    async def feed(cleaner: Cleaner, raws: list[RawDispatch]) -> None:
        for number, raw in enumerate(raws):
            await cleaner.add(raw, ("bench", number))

    print(
        "| workers | pages | wall s | pages/s | speed-up over the first | flow process CPU ms a page | "
        "workers CPU ms a page | each worker computing, share of wall | load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    first: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        for size in sizes:
            raws = [
                RawDispatch("bench", f"page-{n}", page, "html")
                for n, page in enumerate(build_pages(articles, size, DAY))
            ]
            for count in counts:
                with (
                    dask_cluster(Path(tmp) / f"{count}-{size}", count) as (address, processes),
                    Cleaner(CleaningRules(executor=address)) as cleaner,
                ):
                    cleaner.executor.client.run(lambda: __import__("tasks.clean"))  # each worker's imports, first
                    pids = [process.pid for process in processes.values()]
                    workers_before, own_before = cpu_seconds(pids), time.process_time()
                    started = time.perf_counter()
                    with get_task_stream(cleaner.executor.client) as stream:
                        asyncio.run(feed(cleaner, raws))
                        cleaned = cleaner.results()
                    wall = time.perf_counter() - started
                    own, workers = time.process_time() - own_before, cpu_seconds(pids) - workers_before
                    busy: dict[str, float] = {}
                    for record in stream.data:
                        for span in record["startstops"]:
                            if span["action"] == "compute":
                                busy[record["worker"]] = busy.get(record["worker"], 0.0) + span["stop"] - span["start"]
                assert len(cleaned.dispatches) + len(cleaned.failures) >= size * 0.9
                first.setdefault(size, wall)
                print(
                    f"| {count} | {size:,} | {wall:.1f} | {size / wall:.1f} | {first[size] / wall:.2f}x | "
                    f"{own / size * 1000:.1f} | {workers / size * 1000:.0f} | "
                    f"{', '.join(f'{b / wall:.0%}' for b in busy.values())} | {os.getloadavg()[0]:.1f} |",
                    flush=True,
                )


def read_pages(paths: list[Path]) -> list[dict]:
    """{"html", "url"} records of real pages: each path a folder of .html/.htm files or a .jsonl(.gz) dump."""
    records = []
    for path in paths:
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.suffix.lower() in {".html", ".htm"})
            records += [{"html": f.read_text(encoding="utf-8", errors="replace"), "url": f.as_uri()} for f in files]
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                if line.strip():
                    row = json.loads(line)
                    records.append({"html": row["html"], "url": row.get("url")})
    return records


def run_pages(paths: list[Path], args) -> dict:
    """`digest run` on real pages as a user runs it (the CLI, a fresh process each time): with a new
    Prefect home (the first run ever: the temporary server migrates a new database), again with that home
    (every later day), and against a Prefect server already running; then plain trafilatura on one core
    on the same pages."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        sys.exit(f"absent: {', '.join(missing)}")
    records = read_pages(paths)
    runs = []
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        work = Path(tmp)
        with (work / "pages.jsonl").open("w", encoding="utf-8") as dump:
            for record in records:
                dump.write(json.dumps(record, ensure_ascii=False) + "\n")
        args.mode = "pages"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env |= {"PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        env["PREFECT_SERVER_API_PORT"] = str(free_port())  # nothing answers there: a temporary server
        runs.append(("temporary server, new Prefect home", *_digest_run(work / "first", args, env, len(records))))
        runs.append(("temporary server, the same home again", *_digest_run(work / "again", args, env, len(records))))
        with prefect_server(work / "server") as server_env:
            runs.append(("a running Prefect server", *_digest_run(work / "served", args, server_env, len(records))))
    bodies = [r["html"] for r in records]
    started = time.perf_counter()
    rate = plain_trafilatura(bodies)
    reference = time.perf_counter() - started
    return {
        "pages": len(records),
        "runs": runs,
        "executor": args.executor,
        "reference": reference,
        "reference_rate": rate,
        "cleaning_cpu": one_core_cleaning(records),
        "import_cpu": _child_cpu([sys.executable, "-c", "import flows.daily_digest"], os.environ)[1],
        "paths": [str(p) for p in paths],
    }


def one_core_cleaning(records: list[dict]) -> float:
    """CPU seconds to extract and clean the pages on one core, as a worker does (`prepare`), default rules."""
    from tasks.clean import CleaningRules, prepare
    from tasks.dedup import DedupOptions
    from tasks.models import RawDispatch

    rules, repeats = CleaningRules(), DedupOptions()
    raws = [RawDispatch("bench", f"page-{n}", r["html"], "html", url=r["url"]) for n, r in enumerate(records)]
    prepare(raws[0], rules, repeats)  # the imports and models' first use, which a worker pays once
    started = time.process_time()
    for raw in raws:
        prepare(raw, rules, repeats)
    return time.process_time() - started


def _child_cpu(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run `command` from the project's folder: its result and the CPU seconds of it and its children
    (extraction workers, a temporary Prefect server it started and waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return child, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _digest_run(work: Path, args, env: dict[str, str], pages: int) -> tuple[float, int, float]:
    """One `digest run` of work/../pages.jsonl into `work`: its wall time, its stories and its CPU time."""
    work.mkdir()
    os.link(work.parent / "pages.jsonl", work / "pages.jsonl")  # config_text's files source
    config = work / "digest.toml"
    config.write_text(config_text(work, args, pages, "", args.executor), encoding="utf-8")
    started = time.perf_counter()
    child, cpu = _child_cpu(
        [sys.executable, "-m", "flows.cli", "run", "--config", str(config), "--date", DAY, "--no-email"], env
    )
    wall = time.perf_counter() - started
    if child.returncode:
        sys.exit(f"digest run failed:\n{child.stdout[-2000:]}\n{child.stderr[-3000:]}")
    data = json.loads((work / "digests" / f"{DAY}.json").read_text(encoding="utf-8"))
    return wall, len(data["stories"]), cpu


def print_pages(row: dict) -> None:
    reference = row["reference"]
    print(
        "| pages | executor | Prefect | `digest run` s (CLI, Prefect start included) | pages/s | stories | "
        "plain trafilatura.extract s (one core) | pages/s | run time / trafilatura time | run CPU / trafilatura |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for prefect, wall, stories, cpu in row["runs"]:
        print(
            f"| {row['pages']:,} | {row['executor']} | {prefect} | {wall:.1f} | {row['pages'] / wall:.1f} | "
            f"{stories} | {reference:.1f} | {row['reference_rate']:.1f} | {wall / reference:.2f} | "
            f"{cpu / reference:.2f} |"
        )
    cpus = os.cpu_count() or 1
    cleaning, imports = row["cleaning_cpu"] / reference, row["import_cpu"] / reference
    # the flow is imported before a page is read; cleaning spreads over the CPUs; the later stages are left out
    print(
        f"\nIn trafilatura's time T: cleaning the pages on one core {cleaning:.2f}T, importing the flow "
        f"{imports:.2f}T; so no run on {cpus} CPUs takes less than {imports + cleaning / cpus:.2f}T before "
        "its stories and summaries."
    )
    print(f"\nPages: {', '.join(row['paths'])}. Machine: {cpus} CPUs, Python {sys.version.split()[0]}.")


def print_tables(rows: list[dict]) -> None:
    if len({row["executor"] for row in rows}) > 1:
        print_executors(rows)
    stages = [*TASK_STAGES.values(), *FLOW_STAGES]
    named = len({row["executor"] for row in rows}) > 1
    print(
        "| stage | "
        + " | ".join(f"{r['executor'] + ', ' if named else ''}N = {r['size']:,}: s | /s" for r in rows)
        + " |"
    )
    print("|---|" + "---|---|" * len(rows))
    for stage in stages:
        cells = []
        for row in rows:
            seconds = row["seconds"].get(stage, 0.0)
            cells.append(f"{seconds:.2f} | {row['size'] / seconds:,.0f}" if seconds else "0 | -")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    print()
    print(
        "| N | read | kept | stories | run s | dispatches/s | plain trafilatura pages/s | ratio | "
        "Prefect share | peak MB flow process / all | time / time at previous N |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    previous = None
    for row in rows:
        rate = row["size"] / row["wall"]
        share = max(row["wall"] - row["code"], 0.0) / row["wall"]
        if previous and previous["executor"] != row["executor"]:
            previous = None
        growth = f"{row['wall'] / previous['wall']:.1f}x for {row['size'] / previous['size']:.0f}x" if previous else "-"
        print(
            f"| {row['size']:,} | {row['read']:,} | {row['kept']:,} | {row['stories']:,} | {row['wall']:.1f} | "
            f"{rate:.1f} | {row['reference']:.1f} | {rate / row['reference']:.2f} | {share:.1%} | "
            f"{row['peak_main_mb']:.0f} / {row['peak_total_mb']:.0f} | {growth} |"
        )
        previous = row
    print(
        f"\nMachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        "Prefect share: run wall time less time inside stage code, over run wall time."
    )


def print_executors(rows: list[dict]) -> None:
    """Cleaning (read + clean: pages are cleaned as they are read) by executor, and its speed-up over the first."""
    print("| executor | N | cleaning s (read + clean) | pages/s | speed-up over the first | run s | Prefect share |")
    print("|---|---|---|---|---|---|---|")
    first: dict[int, float] = {}
    for row in rows:
        cleaning = row["seconds"].get("read", 0.0) + row["seconds"].get("clean", 0.0)
        first.setdefault(row["size"], cleaning)
        share = max(row["wall"] - row["code"], 0.0) / row["wall"]
        print(
            f"| {row['executor']} | {row['size']:,} | {cleaning:.2f} | {row['size'] / cleaning:,.1f} | "
            f"{first[row['size']] / cleaning:.2f}x | {row['wall']:.1f} | {share:.1%} |"
        )
    print()


if __name__ == "__main__":
    main()
