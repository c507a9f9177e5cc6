"""The real flow through a real Prefect API: the temporary server of the test harness, and the CLI's own."""

import json
import os
import re
import subprocess
import time

import pytest

from flows.prefect_api import ApiUnreachable, TemporaryServer, answers
from tests.conftest import ROOT, SAMPLES
from tests.helpers import DIGEST, files_in as _files, samples_config as _config

pytestmark = pytest.mark.prefect


def test_flow_writes_digest_and_artifact_and_reports_failed_source(prefect_api, tmp_path):
    from prefect import get_client

    from flows.daily_digest import run_daily_digest

    config = _config(tmp_path, '\n[[sources]]\nname = "broken"\npath = "does-not-exist"\n')
    state = run_daily_digest(date="2026-11-27", config_path=str(config), return_state=True)
    assert state.is_completed()
    result = state.result()
    with get_client(sync_client=True) as client:  # runs list by the digest's date
        assert client.read_flow_run(state.state_details.flow_run_id).name == "daily-digest-2026-11-27"
    assert result["stories"] == 4 and result["failures"] == 1
    out = tmp_path / "digests"
    assert sorted(p.name for p in out.iterdir()) == [
        "2026-11-27.html",
        "2026-11-27.json",
        "2026-11-27.md",
        "feed.xml",
        "index.html",
    ]  # the archive beside the days
    data = json.loads((out / "2026-11-27.json").read_text(encoding="utf-8"))
    assert data["report"]["dispatches_read"] == 6
    assert data["report"]["failures"][0]["source"] == "broken"
    assert data["report"]["removed"]["sentence"] == 1  # the restated sentence of the Lyon dispatch
    assert {tuple(s["sources"]) for s in data["stories"]} >= {("AFP", "Le Courrier du Rhône"), ("AP", "Reuters")}
    md = (out / "2026-11-27.md").read_text(encoding="utf-8")
    assert "REUTERS/" not in md and "( AFP /" not in md and "mb/abc/lpa" not in md

    async def artifacts():
        async with get_client() as client:
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=["daily-digest"]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
                )
            )

    import asyncio

    [artifact] = asyncio.run(artifacts())
    assert artifact.flow_run_id == state.state_details.flow_run_id
    assert "Crue du Rhône" in artifact.data


def test_flow_fails_when_every_source_fails(prefect_api, tmp_path):
    from flows.daily_digest import run_daily_digest

    config = tmp_path / "digest.toml"
    config.write_text('[[sources]]\nname = "gone"\npath = "nowhere"\n')
    state = run_daily_digest(
        date="2026-11-27", config_path=str(config), out_dir=str(tmp_path / "out"), return_state=True
    )
    assert state.is_failed()
    assert "gone: path does not exist" in state.message
    assert not (tmp_path / "out").exists()


def test_cli_run_uses_the_local_prefect_api(tmp_path):
    """`digest run` as a user runs it: its own temporary Prefect server, a fresh Prefect home (a free local
    port: a server already answering on it would be used instead)."""
    from flows.prefect_api import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_PORT=str(port),
        COLUMNS="200",
    )
    out = tmp_path / "out"
    run = subprocess.run(
        [
            *DIGEST,
            "run",
            "--config",
            str(_config(tmp_path)),
            "--date",
            "2026-11-27",
            "--out",
            str(out),
            "--sentences",
            "2",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    first = next(line for line in run.stdout.splitlines() if "│" in line)
    assert "Prefect API" in first and f"(temporary server, nothing answers at http://127.0.0.1:{port}/api)" in first
    temporary = re.search(r"(http://127\.0\.0\.1:\d+/api) \(temporary", first).group(1)
    assert not answers(temporary)  # stopped with the run
    assert "Error logging to API" not in run.stderr  # its logs were sent before it stopped
    assert "4 stories for 2026-11-27; 0 failures" in run.stdout
    assert str(out / "2026-11-27.md") in run.stdout
    data = json.loads((out / "2026-11-27.json").read_text(encoding="utf-8"))
    assert all(len(s["summary"]) <= 2 for s in data["stories"])


@pytest.mark.slow
def test_a_temporary_server_that_cannot_start_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", f"sqlite+aiosqlite:///{tmp_path}/absent/prefect.db")
    with TemporaryServer("nothing answers") as server:
        with pytest.raises(ApiUnreachable, match="the temporary Prefect server ended: .+"):
            server.ready(timeout=120)


@pytest.mark.slow
def test_a_killed_run_leaves_no_temporary_server(tmp_path):
    import psutil

    from flows.prefect_api import free_port
    from tests.prefect_server import wait_for

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_API_PORT=str(free_port()))
    command = [*DIGEST, "run", "--config", str(_config(tmp_path)), "--out", str(tmp_path / "out")]
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def server() -> psutil.Process | None:
            found = [p for p in psutil.Process(run.pid).children(recursive=True) if "server" in p.cmdline()]
            return found[0] if found else None

        started = wait_for(server, 120, "the run's temporary server")
    finally:
        run.kill()  # no clean-up of its own: the kernel tells the server
        run.wait()
    gone, alive = psutil.wait_procs([started], timeout=30)
    for process in alive:
        process.kill()
    assert gone and not alive


def test_cli_rejects_a_bad_config_before_any_work(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[[sources]]\nname = "x"\npath = "."\ncolour = "blue"\n[summary]\nsentences = 0\n')
    run = subprocess.run(
        [*DIGEST, "run", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "sources.0.colour: unknown key" in run.stderr
    assert "summary.sentences: Input should be greater than or equal to 1" in run.stderr


def test_a_bad_config_with_no_prefect_api_stops_the_temporary_server_it_started(tmp_path):
    """The temporary server starts before the config is checked (it readies itself meanwhile): a config
    with problems ends the run with them, and the server with it."""
    import psutil

    from flows.prefect_api import free_port

    config = tmp_path / "bad.toml"
    config.write_text('[[sources]]\nname = "x"\npath = "."\ncolour = "blue"\n')
    home = str(tmp_path / "prefect")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=home, PREFECT_SERVER_API_PORT=str(free_port()))
    run = subprocess.Popen(
        [*DIGEST, "run", "--config", str(config)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    servers = []
    while run.poll() is None:  # the run's children while it lasts: its server among them
        try:
            servers += [p for p in psutil.Process(run.pid).children(recursive=True) if "server" in p.cmdline()]
        except psutil.Error:
            pass
        time.sleep(0.05)
    assert run.returncode == 2
    assert "sources.0.colour: unknown key" in run.stderr.read()
    assert servers, "no temporary server was started"
    gone, alive = psutil.wait_procs(servers, timeout=30)
    for process in alive:
        process.kill()
    assert not alive


def test_flow_reads_web_sources_and_reports_each_failure(prefect_api, tmp_path):
    from flows.daily_digest import run_daily_digest
    from tasks.sources import SourceSpec
    from tests.helpers import PAGE, rss
    from tests.http_server import FixtureServer, Reply

    with FixtureServer() as server:
        server.routes["/feed.xml"] = Reply(
            200,
            rss(("Storm hits the coast", server.url("/a1"), "Fri, 27 Nov 2026 08:00:00 GMT")),
            {"Content-Type": "application/rss+xml", "ETag": '"v1"'},
        )
        server.routes["/a1"] = Reply(200, PAGE)
        server.routes["/broken.xml"] = Reply(200, "this is not a feed")
        sources = [
            SourceSpec(name="coast", kind="feed", url=server.url("/feed.xml"), local=True),
            SourceSpec(name="broken", kind="feed", url=server.url("/broken.xml"), local=True),
            SourceSpec(name="pages", kind="urls", urls=[server.url("/missing")], local=True),
        ]
        config = _config(tmp_path)
        state = run_daily_digest(date="2026-11-27", config_path=str(config), sources=sources, return_state=True)
        assert state.is_completed()
        data = json.loads((tmp_path / "digests" / "2026-11-27.json").read_text(encoding="utf-8"))
        assert [s["headline"] for s in data["stories"]] == ["Storm hits the coast"]
        failures = {f["source"]: f["reason"] for f in data["report"]["failures"]}
        assert failures["pages"] == "HTTP 404"
        assert failures["broken"].startswith("not a feed")
        from tasks.store import Store, store_url

        store = Store.open(store_url(tmp_path / "data"))
        assert store.validators()[server.url("/feed.xml")] == {"etag": '"v1"'}
        assert [run["status"] for run in store.history()] == ["completed"]


def test_same_date_twice_gives_the_same_digest_and_the_next_day_nothing_new(prefect_api, tmp_path):
    from flows.daily_digest import run_daily_digest
    from tasks.store import Store, store_url

    config = str(_config(tmp_path))
    run_daily_digest(date="2026-11-27", config_path=config)
    first = _files(tmp_path / "digests")
    store = Store.open(store_url(tmp_path / "data"))
    counts = {t: store.count(t) for t in ("dispatches", "digests")}
    run_daily_digest(date="2026-11-27", config_path=config)
    assert _files(tmp_path / "digests") == first
    assert {t: store.count(t) for t in ("dispatches", "digests")} == counts == {"dispatches": 6, "digests": 1}

    result = run_daily_digest(date="2026-11-28", config_path=config)
    assert result["stories"] == 0
    data = json.loads((tmp_path / "digests" / "2026-11-28.json").read_text(encoding="utf-8"))
    assert data["report"]["removed"]["history"] == 6
    assert "Nothing new since the last digest." in (tmp_path / "digests" / "2026-11-28.md").read_text(encoding="utf-8")


# Each kill point leaves a different state to recover from: mid-read (fetches and cleaning workers in flight,
# validators unsaved), every page read and cleaned, everything computed and nothing written, the digest's
# files written but the store not told. dedup, history, cluster and summarise (dropped: 4 x ~18 s) write
# nothing between 'clean' and 'render' (no task is cached): a kill after them left what a kill after either does.
@pytest.mark.parametrize(
    "kill_after", ["a page request", "Task run 'clean", "Task run 'render", "Task run 'write-digest"]
)
def test_a_killed_run_leaves_nothing_partial_and_the_rerun_completes(prefect_api, tmp_path, kill_after):
    """SIGKILL the flow process mid-run, re-run the date: no loss, no duplicate, no partial file."""
    import signal
    import time

    import prefect.settings

    from flows.daily_digest import run_daily_digest
    from tasks.store import Store, store_url
    from tests.helpers import PAGE, article, rss
    from tests.http_server import FixtureServer, Reply

    with FixtureServer() as server:
        server.routes["/feed.xml"] = Reply(
            200,
            rss(
                ("Storm hits the coast", server.url("/a1"), "Fri, 27 Nov 2026 08:00:00 GMT"),
                ("Flood in the valley", server.url("/a2"), "Fri, 27 Nov 2026 09:00:00 GMT"),
            ),
            {"Content-Type": "application/rss+xml", "ETag": '"v1"'},
        )
        server.routes["/a1"] = Reply(200, PAGE)
        slow = kill_after == "a page request"
        flood = article(
            "Flood in the valley",
            "The river burst its banks in the valley on Friday morning, flooding the old town's main square.",
            "The mayor opened the school gym for residents who had to leave their homes before dawn.",
            "Engineers will inspect the dam on Saturday once the water level has dropped below the alert line.",
        )
        server.routes["/a2"] = Reply(200, flood, delay=30 if slow else 0)
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[sources]]\nname = "coast"\nkind = "feed"\nurl = "{server.url("/feed.xml")}"\nlocal = true\n'
            f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n'
        )
        config = _config(tmp_path)
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value(),
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
        process = subprocess.Popen(
            [*DIGEST, "run", "--config", str(config), "--sources", str(sources), "--date", "2026-11-27"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        if slow:
            while "/a2" not in server.requests and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            for line in process.stdout:
                if kill_after in line and "Finished" in line:
                    break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert time.monotonic() < deadline, "the run never reached the kill point"

        out = tmp_path / "digests"
        for name, text in _files(out).items():  # whatever was written is whole
            assert not name.startswith("."), f"temporary file left: {name}"
            if name.endswith(".json"):
                json.loads(text)

        server.routes["/a2"] = Reply(200, flood)
        from flows.settings import load_sources

        spec = load_sources(sources)
        run_daily_digest(date="2026-11-27", config_path=str(config), sources=spec)
        rerun = _files(out)

        reference_config = tmp_path / "reference.toml"
        reference_config.write_text(
            config.read_text()
            .replace(str(tmp_path / "digests"), str(tmp_path / "ref"))
            .replace(str(tmp_path / "data"), str(tmp_path / "ref-data"))
        )
        server.requests.clear()
        run_daily_digest(date="2026-11-27", config_path=str(reference_config), sources=spec)
        assert rerun == _files(tmp_path / "ref")

    store = Store.open(store_url(tmp_path / "data"))
    assert store.count("dispatches") == 8 and store.count("digests") == 1
    assert [run["status"] for run in store.history()] == ["completed", "interrupted"]
