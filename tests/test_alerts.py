"""Failure alerts: email.alerts through a real SMTP server (aiosmtpd) and a Prefect event, from real flow runs."""

import asyncio
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from flows.prefect_api import free_port
from tests.conftest import SAMPLES
from tests.helpers import DIGEST, Inbox


@pytest.fixture
def inbox():
    """An SMTP server on 127.0.0.1 (stopped after the test): (inbox, port)."""
    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _config(tmp_path, port, sources: str, recipients=()) -> str:
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[digest]\ntitle = "Desk"\nout_dir = "{tmp_path / "digests"}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "digest@desk.example"\n'
        f'recipients = {list(recipients)!r}\nalerts = ["oncall@desk.example", "chief@desk.example"]\n'
        f"retries = 0\n{sources}",
        encoding="utf-8",
    )
    return str(config)


GONE = '[[sources]]\nname = "gone"\npath = "nowhere"\n'
SAMPLES_AND_BROKEN = (
    f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n[[sources]]\nname = "broken"\npath = "does-not-exist"\n'
)


def test_alert_message_names_the_date_the_error_the_sources_and_the_run():
    from tasks.alerts import RunInfo, compose
    from tasks.deliver import EmailSettings
    from tasks.models import Failure

    settings = EmailSettings(sender="digest@desk.example")
    run = RunInfo("1234", "daily-digest-2026-11-27", "http://127.0.0.1:4200/runs/flow-run/1234")
    message = compose(
        "Desk",
        "2026-11-27",
        run,
        None,
        [Failure("feeds", "https://x.example/rss", "HTTP 503")],
        settings,
        ["oncall@desk.example"],
    )
    assert message["Subject"] == "[alert] Desk — 2026-11-27: 1 source failure"
    assert message["To"] == "oncall@desk.example"
    plain = message.get_body(("plain",)).get_content()
    assert "- feeds (https://x.example/rss): HTTP 503" in plain
    assert "Run: daily-digest-2026-11-27 (http://127.0.0.1:4200/runs/flow-run/1234)" in plain
    failed = compose(
        "Desk",
        "2026-11-27",
        run,
        "Flow run encountered an exception: AllSourcesFailed: a\nb",
        [],
        settings,
        ["oncall@desk.example"],
    )
    assert failed["Subject"] == "[alert] Desk — 2026-11-27: the run failed"
    assert "AllSourcesFailed: a\nb" in failed.get_body(("plain",)).get_content()


def test_alerts_setting_takes_addresses_and_the_environment(tmp_path, monkeypatch):
    from flows.settings import ConfigError, load_settings

    config = tmp_path / "digest.toml"
    config.write_text('[email]\nalerts = ["oncall@desk.example"]\n[[sources]]\nname = "a"\npath = "."\n')
    assert load_settings(config).email.alerts == ["oncall@desk.example"]
    monkeypatch.setenv("DIGEST_ALERTS_TO", "a@desk.example, b@desk.example")
    assert load_settings(config).email.alerts == ["a@desk.example", "b@desk.example"]
    monkeypatch.delenv("DIGEST_ALERTS_TO")
    config.write_text('[email]\nalerts = ["on call"]\n[[sources]]\nname = "a"\npath = "."\n')
    with pytest.raises(ConfigError, match=r'email.alerts.0: "on call" is not an email address'):
        load_settings(config)


@pytest.mark.prefect
def test_a_failed_run_alerts_once_and_keeps_its_own_error(prefect_api, tmp_path, inbox):
    from flows.daily_digest import run_daily_digest

    box, port = inbox
    state = run_daily_digest(date="2026-11-27", config_path=_config(tmp_path, port, GONE), return_state=True)
    assert state.is_failed()
    assert "AllSourcesFailed" in state.message and "gone: path does not exist" in state.message
    [(recipients, message)] = box.messages
    assert sorted(recipients) == ["chief@desk.example", "oncall@desk.example"]
    assert message["Subject"] == "[alert] Desk — 2026-11-27: the run failed"
    plain = message.get_body(("plain",)).get_content()
    assert "gone: path does not exist" in plain and "daily-digest-2026-11-27" in plain

    flow_run_id = state.state_details.flow_run_id
    [event] = _events("dispatch-digest.run.failed", flow_run_id)
    assert event["resource"]["prefect.resource.name"] == "daily-digest-2026-11-27"
    assert event["payload"]["date"] == "2026-11-27" and "gone: path does not exist" in event["payload"]["error"]


@pytest.mark.prefect
def test_a_run_where_a_source_failed_completes_and_alerts_once(prefect_api, tmp_path, inbox):
    from flows.daily_digest import run_daily_digest

    box, port = inbox
    state = run_daily_digest(
        date="2026-11-27", config_path=_config(tmp_path, port, SAMPLES_AND_BROKEN), return_state=True
    )
    assert state.is_completed() and state.result()["stories"] == 4
    [(_, message)] = box.messages
    assert message["Subject"] == "[alert] Desk — 2026-11-27: 1 source failure"
    assert "- broken (" in message.get_body(("plain",)).get_content()
    [event] = _events("dispatch-digest.sources.failed", state.state_details.flow_run_id)
    assert [f["source"] for f in event["payload"]["failures"]] == ["broken"]


@pytest.mark.prefect
def test_an_alert_that_cannot_be_sent_masks_nothing(prefect_api, tmp_path):
    from flows.daily_digest import run_daily_digest

    closed = free_port()  # nothing listens: the alert fails at once, and is only a warning
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    state = run_daily_digest(date="2026-11-27", config_path=_config(tmp_path / "a", closed, GONE), return_state=True)
    assert state.is_failed() and "AllSourcesFailed: gone: path does not exist" in state.message
    state = run_daily_digest(
        date="2026-11-27", config_path=_config(tmp_path / "b", closed, SAMPLES_AND_BROKEN), return_state=True
    )
    assert state.is_completed() and state.result()["failures"] == 1


@pytest.mark.prefect
def test_no_alert_when_all_went_well(prefect_api, tmp_path, inbox):
    from flows.daily_digest import run_daily_digest

    box, port = inbox
    sources = f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n'
    state = run_daily_digest(date="2026-11-27", config_path=_config(tmp_path, port, sources), return_state=True)
    assert state.is_completed() and box.messages == []


def _events(name: str, flow_run_id, timeout: float = 30) -> list[dict]:
    """The events `name` about a flow run, through the API (events arrive asynchronously)."""
    from prefect import get_client
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all()

    async def query():
        async with get_client() as client:
            response = await client.request(
                "POST",
                "/events/filter",
                json={
                    "filter": {"event": {"name": [name]}, "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]}},
                    "limit": 10,
                },
            )
            return response.json()["events"]

    deadline = time.monotonic() + timeout
    while True:
        events = asyncio.run(query())
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


@pytest.mark.prefect
def test_the_readme_s_automation_on_the_event_calls_a_webhook_when_a_run_fails(tmp_path):
    """The automation docs/operations.md shows (the README's before), created with `prefect automation create`
    on a real server, with a webhook notification block pointing at a local HTTP server: a failing
    `digest run` calls it."""
    import json
    import re
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.conftest import ROOT
    from tests.prefect_server import prefect_server, wait_for

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        with prefect_server(tmp_path / "prefect-home") as env:
            env = {k: v for k, v in env.items() if k != "PREFECT_LOGGING_LEVEL"}
            block = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    (
                        "from prefect.blocks.notifications import CustomWebhookNotificationBlock as B; "
                        f"print(B(name='desk', url='http://127.0.0.1:{hook.server_address[1]}/hook', "
                        "json_data={'subject': '{{subject}}', 'body': '{{body}}'}).save('desk'))"
                    ),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert block.returncode == 0, block.stderr[-2000:]
            readme = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
            automation = re.search(r"## Alerts.*?```yaml\n(.*?)```", readme, re.S).group(1)
            (tmp_path / "automation.yaml").write_text(
                automation.replace("<id of a notification block>", block.stdout.strip()), encoding="utf-8"
            )
            created = subprocess.run(
                [
                    str(Path(sys.executable).parent / "prefect"),
                    "automation",
                    "create",
                    "--from-file",
                    str(tmp_path / "automation.yaml"),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert created.returncode == 0, created.stdout + created.stderr

            config = tmp_path / "digest.toml"
            config.write_text(f'[digest]\ndata_dir = "{tmp_path / "data"}"\n{GONE}', encoding="utf-8")
            run = subprocess.run(
                [*DIGEST, "run", "--config", str(config), "--date", "2026-11-27"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert run.returncode == 1 and "gone: path does not exist" in run.stderr
            wait_for(lambda: received, 90, "the automation's webhook call")
            sent = json.loads(received[0])
            assert "dispatch-digest.run.failed" in sent["subject"]
            assert "gone: path does not exist" in sent["body"]
    finally:
        hook.shutdown()
        hook.server_close()
