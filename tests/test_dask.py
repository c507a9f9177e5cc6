"""Cleaning on a real Dask cluster: a `dask scheduler` and two `dask worker` processes started here on
127.0.0.1 (and stopped here). The digest is byte-identical to the local run's, a worker killed mid-run
loses nothing, and a scheduler that cannot be reached is one clear error before any page is read."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from pathlib import Path

import pytest

from flows.prefect_api import free_port
from tasks.clean import Cleaner, CleaningRules
from tasks.models import RawDispatch
from tasks.workers import DaskExecutor, ExecutorUnreachable
from tests.conftest import SAMPLES
from tests.dask_cluster import dask_cluster
from tests.helpers import SLOW_READ_SECONDS, SlowToRead

WORDS = (
    "harbour council budget workers strike container terminal minister railway station bridge river flood "
    "school teachers parliament election museum festival theatre orchestra farmers market hospital nurses "
    "airport runway forest wildfire village mayor"
).split()


def _pages(folder: Path, count: int) -> Path:
    """`count` HTML pages of a few paragraphs each: some on the same events, so stories form."""
    folder.mkdir()
    for n in range(count):
        event = random.Random(n % 7).sample(WORDS, 12)
        rng = random.Random(n)
        paragraphs = [" ".join(rng.sample(event, 6) + rng.sample(WORDS, 8)).capitalize() + "." for _ in range(4)]
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        (folder / f"{n:03d}.html").write_text(
            f"<html><head><title>{' '.join(event[:4]).title()} {n}</title></head><body><article>"
            f"<h1>{' '.join(event[:4]).title()} {n}</h1>{body}</article></body></html>",
            encoding="utf-8",
        )
    return folder


def _config(tmp_path: Path, name: str, executor: str, pages: Path) -> Path:
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'[digest]\ntitle = "Test digest"\nout_dir = "{tmp_path / name / "digests"}"\n'
        f'data_dir = "{tmp_path / name / "data"}"\n\n'
        f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n\n[[sources]]\nname = "pages"\npath = "{pages}"\n\n'
        f'[cleaning]\nexecutor = "{executor}"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.prefect
def test_the_digest_cleaned_on_a_dask_cluster_is_byte_identical_to_the_local_one(prefect_api, tmp_path, monkeypatch):
    import flows.daily_digest
    from flows.daily_digest import run_daily_digest

    monkeypatch.setattr(flows.daily_digest, "SPREAD_SUMMARIES_FROM", 2)  # summarised on the cluster too

    pages = _pages(tmp_path / "pages", 40)  # 46 pages: three batches of 16, the last one partial
    local = run_daily_digest(
        date="2026-11-27", config_path=str(_config(tmp_path, "local", "local", pages)), email=False
    )
    with dask_cluster(tmp_path) as (address, _):
        spread = run_daily_digest(
            date="2026-11-27", config_path=str(_config(tmp_path, "dask", address, pages)), email=False
        )
        from distributed import Client

        with Client(address, timeout=5, set_as_default=False) as client:  # both workers ran tasks: which ones
            done = client.run(lambda dask_worker: dask_worker.state.executed_count)
            kinds = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert all(count > 0 for count in done.values()), done
    assert kinds == ["prepare_batch", "summarise_stories"]
    assert local["read"] == spread["read"] == 46 and local["stories"] == spread["stories"] > 1
    for name in ("2026-11-27.md", "2026-11-27.html", "2026-11-27.json"):
        ours, theirs = tmp_path / "local" / "digests" / name, tmp_path / "dask" / "digests" / name
        assert ours.read_bytes() == theirs.read_bytes(), name
    report = json.loads((tmp_path / "dask" / "digests" / "2026-11-27.json").read_text(encoding="utf-8"))["report"]
    assert report["dispatches_read"] == 46 and not report["failures"]


@pytest.mark.slow  # a Dask cluster
def test_a_worker_killed_mid_run_loses_nothing(tmp_path):
    raws = [
        RawDispatch(
            "s", f"page-{n}", SlowToRead(f"Dispatch {n}. " + " ".join(random.Random(n).sample(WORDS, 20)) + "."), "text"
        )
        for n in range(32)
    ]
    with Cleaner(CleaningRules(workers=1)) as cleaner:  # the reference: cleaned here, in order
        asyncio.run(_add_all(cleaner, raws))
        expected = cleaner.results()
    with dask_cluster(tmp_path) as (address, processes):
        with Cleaner(CleaningRules(executor=address), batch=4) as cleaner:
            client = cleaner.executor.client

            async def run() -> str:
                adding = asyncio.create_task(_add_all(cleaner, raws))
                busy = None
                deadline = time.monotonic() + 30
                while busy is None and time.monotonic() < deadline:  # a worker holding a batch
                    await asyncio.sleep(0.2)
                    names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
                    busy = next((names[a] for a, keys in client.processing().items() if keys and a in names), None)
                assert busy is not None, "no worker took a batch"
                processes[busy].kill()  # SIGKILL: no goodbye to the scheduler
                await adding
                return busy

            killed = asyncio.run(run())
            cleaned = cleaner.results()
            assert processes[killed].wait(timeout=5) == -signal.SIGKILL
            assert len(client.scheduler_info()["workers"]) == 1
    assert [d.id for d in cleaned.dispatches] == [d.id for d in expected.dispatches]
    assert len(cleaned.dispatches) == 32 and not cleaned.failures
    assert cleaned.dispatches == expected.dispatches
    assert SLOW_READ_SECONDS * 32 / 4 > 1  # the run lasted long enough for the kill to land mid-run


async def _add_all(cleaner: Cleaner, raws: list[RawDispatch]) -> None:
    for number, raw in enumerate(raws):
        await cleaner.add(raw, ("s", number))


def test_an_unreachable_scheduler_is_one_clear_error_at_once(monkeypatch):
    import distributed

    clients = []  # a Dask Client retries its connection until its timeout (10 s): none is made
    monkeypatch.setattr(distributed, "Client", lambda *args, **options: clients.append(args))
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ExecutorUnreachable) as raised:
        Cleaner(CleaningRules(executor=address))
    assert str(raised.value) == f"the Dask scheduler at {address} cannot be reached: Connection refused"
    with pytest.raises(ExecutorUnreachable, match="unknown host nohost.invalid"):
        DaskExecutor("tcp://nohost.invalid:8786")
    assert clients == []  # the plain reason came from one TCP connection, at once


def test_the_executor_setting_is_local_or_a_scheduler_address():
    assert CleaningRules().executor == "local"
    assert CleaningRules(executor="tcp://scheduler:8786").executor == "tcp://scheduler:8786"
    for wrong in ("dask", "tcp://scheduler", "http://scheduler:8786"):
        with pytest.raises(ValueError, match='neither "local" nor a Dask scheduler\'s address'):
            CleaningRules(executor=wrong)


@pytest.mark.prefect
def test_an_unreachable_scheduler_fails_the_run_before_any_page_is_read(prefect_api, tmp_path):
    from flows.daily_digest import run_daily_digest
    from tests.http_server import FixtureServer, Reply

    address = f"tcp://127.0.0.1:{free_port()}"
    with FixtureServer() as server:
        server.routes["/a"] = Reply(200, "<html><body><p>A page.</p></body></html>")
        config = tmp_path / "digest.toml"
        config.write_text(
            f'[[sources]]\nname = "web"\nkind = "urls"\nurls = ["{server.url("/a")}"]\n\n'
            f'[fetch]\nrobots = false\n\n[cleaning]\nexecutor = "{address}"\n',
            encoding="utf-8",
        )
        state = run_daily_digest(
            date="2026-11-27", config_path=str(config), out_dir=str(tmp_path / "out"), email=False, return_state=True
        )
        assert state.is_failed()
        assert f"the Dask scheduler at {address} cannot be reached: Connection refused" in state.message
        assert not server.requests  # not one page asked for
    assert not (tmp_path / "out").exists()
