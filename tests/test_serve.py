"""Which Prefect API `digest serve` and `digest run` use, said first; no usable API is one line with the
fix; a served deployment reads the config when each run starts. A real `prefect server start` on 127.0.0.1."""

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from flows.prefect_api import free_port
from tests.conftest import ROOT, SAMPLES
from tests.helpers import DIGEST
from tests.prefect_server import prefect_server, stop, wait_for

pytestmark = pytest.mark.slow  # `digest` CLIs in subprocesses, a real Prefect server
DAY = "2026-11-27"


def _config(folder: Path, summary: str = "sentences = 4", extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "digest.toml"
    config.write_text(
        f'[digest]\nout_dir = "{folder / "digests"}"\ndata_dir = "{folder / "data"}"\n[summary]\n{summary}\n{extra}'
        f'[[schedules]]\nname = "morning"\ncron = "0 6 * * *"\ntimezone = "Europe/Paris"\n'
        f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n',
        encoding="utf-8",
    )
    return config


def _environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """No PREFECT_* of the test session (PREFECT_LOGGING_LEVEL hides what a user sees), a fresh home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        COLUMNS="200",
        **variables,
    )
    return env


def _digest(*arguments: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*DIGEST, *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_serve_without_an_api_fails_in_one_line_naming_the_url_and_the_fix(tmp_path):
    port = free_port()  # nothing listens there: the "configured local port" of this test
    served = _digest(
        "serve", "--config", str(_config(tmp_path)), env=_environment(tmp_path, PREFECT_SERVER_API_PORT=str(port))
    )
    assert served.returncode == 1
    [line] = served.stderr.strip().splitlines()
    assert f"nothing answers at http://127.0.0.1:{port}/api" in line
    assert f"set PREFECT_API_URL=http://127.0.0.1:{port}/api" in line and "prefect server start" in line


@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_wrong_prefect_api_url_is_one_line_naming_it(tmp_path, command):
    wrong = f"http://127.0.0.1:{free_port()}/api"
    done = _digest(command, "--config", str(_config(tmp_path)), env=_environment(tmp_path, PREFECT_API_URL=wrong))
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"the Prefect API at {wrong} (PREFECT_API_URL) does not answer")
    assert "fix PREFECT_API_URL" in line


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One `prefect server start` for the module's tests: its environment (PREFECT_API_URL set)."""
    with prefect_server(tmp_path_factory.mktemp("prefect-server") / "home") as env:
        yield env


def _port(server_env: dict) -> str:
    return server_env["PREFECT_SERVER_API_PORT"]


@pytest.mark.prefect
def test_run_uses_a_server_already_running_on_the_local_port_and_says_so(server, tmp_path):
    api = server["PREFECT_API_URL"]
    env = _environment(tmp_path, PREFECT_SERVER_API_PORT=_port(server))  # no PREFECT_API_URL
    done = _digest("run", "--config", str(_config(tmp_path)), "--date", DAY, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if "│" in line]
    assert "Prefect API" in rows[0] and f"{api} (already running)" in rows[0], done.stdout
    runs = httpx.post(
        f"{api}/flow_runs/filter", json={"flow_runs": {"name": {"any_": [f"daily-digest-{DAY}"]}}}, timeout=10
    ).json()
    assert [r["state"]["type"] for r in runs] == ["COMPLETED"]

    with_url = _digest(
        "run",
        "--config",
        str(_config(tmp_path / "again")),
        "--date",
        DAY,
        env=_environment(tmp_path, PREFECT_API_URL=api),
    )
    assert with_url.returncode == 0, with_url.stderr[-3000:]
    rows = [line for line in with_url.stdout.splitlines() if "│" in line]
    assert f"{api} (PREFECT_API_URL)" in rows[0]


def _create_run(api: str, deployment: str, parameters: dict) -> dict:
    """A scheduled run of the deployment; a busy test server may answer 5xx once (its SQLite locked)."""

    def created():
        reply = httpx.post(
            f"{api}/deployments/{deployment}/create_flow_run",
            json={"parameters": parameters, "state": {"type": "SCHEDULED"}},
            timeout=10,
        )
        return reply.json() if reply.is_success else None

    return wait_for(created, 30, "a flow run created")


@pytest.mark.prefect
def test_a_served_deployment_reads_the_config_when_each_run_starts(server, tmp_path):
    """Serve, then edit the TOML (length, algorithm), then run the deployment: the edited values are used.
    Then a run that fails: one alert email (from the run's process), however long one waits."""
    from aiosmtpd.controller import Controller

    from tests.helpers import Inbox

    box, smtp_port = Inbox(), free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    api = server["PREFECT_API_URL"]
    config = _config(
        tmp_path,
        extra=f'[email]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        'sender = "digest@desk.example"\nalerts = ["oncall@desk.example"]\nretries = 0\n',
    )
    env = _environment(tmp_path, PREFECT_SERVER_API_PORT=_port(server), PREFECT_RUNNER_POLL_FREQUENCY="2")
    log = tmp_path / "serve.log"
    serving = subprocess.Popen(
        [*DIGEST, "serve", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deployment = wait_for(lambda: _deployment(api), 90, "the served deployment")
        first = log.read_text().splitlines()[0]
        assert first == f"Prefect API: {api} (already running)"
        assert deployment["parameters"] == {"config_path": str(config.resolve()), "schedule": "morning"}
        assert "Europe/Paris time zone" in deployment["description"]
        sentences = deployment["parameter_openapi_schema"]["properties"]["sentences"]
        assert "config's `summary.sentences`" in sentences["description"]

        config.write_text(config.read_text().replace("sentences = 4", 'sentences = 1\nalgorithm = "lead"'))
        run = _create_run(api, deployment["id"], {"date": DAY})
        finished = wait_for(lambda: _finished(api, run["id"]), 180, "the deployment's run")
        assert finished["state"]["type"] == "COMPLETED", (finished["state"], log.read_text()[-3000:])
        assert finished["name"] == f"daily-digest-{DAY}"
        data = json.loads((tmp_path / "digests" / f"{DAY}.json").read_text(encoding="utf-8"))
        assert data["stories"] and all(len(story["summary"]) == 1 for story in data["stories"])
        assert box.messages == []

        run = _create_run(api, deployment["id"], {"date": DAY, "only_sources": ["wires"]})
        failed = wait_for(lambda: _finished(api, run["id"]), 180, "the failing run")
        assert failed["state"]["type"] == "FAILED" and "no source named wires" in failed["state"]["message"]
        wait_for(lambda: box.messages, 30, "the alert")
        time.sleep(3)
        [(recipients, message)] = box.messages
        assert recipients == ["oncall@desk.example"] and message["Subject"].endswith(f"{DAY}: the run failed")
        assert (
            f"Run: daily-digest-{DAY} (http://127.0.0.1:{_port(server)}/" in message.get_body(("plain",)).get_content()
        )
    finally:
        stop(serving)
        smtp.stop()


def _deployment(api: str):
    found = httpx.post(f"{api}/deployments/filter", json={"deployments": {"name": {"any_": ["morning"]}}}, timeout=5)
    return found.json()[0] if found.status_code == 200 and found.json() else None


def _finished(api: str, run_id: str):
    run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()
    return run if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None
