"""Faults during a run: the output folder full or read-only, the store read-only, the SMTP server
gone mid-run, the process killed between storing the digest and sending it. Each time: a clear
error in the run (the Prefect API, as the UI shows it), nothing partial on disk, nothing sent
twice, and the next run completes.

Tests run as root, to whom file modes mean nothing: the faulty run is a `digest run` subprocess
without CAP_DAC_OVERRIDE (setpriv), or in its own user and mount namespace over a small tmpfs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers import (
    DIGEST,
    Inbox,
    files_in as _files,
    french_config as _french_config,
    samples_config as _config,
    smtp_server,
)

pytestmark = pytest.mark.prefect
DAY = "2026-11-27"
# Root without its pass over file modes: a 0555 folder or a 0444 file is then read-only to it too.
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
# The run's own user and mount namespace, with a 20 KB tmpfs over the output folder ($OUT); the
# folder is listed, and its Markdown shown, from inside before the namespace (and the tmpfs) goes.
FULL_DISK = [
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "sh",
    "-c",
    'mount -t tmpfs -o size=20k tmpfs "$OUT" && printf "earlier\\n" > "$OUT/2026-11-27.md" || exit 99; '
    '"$@"; status=$?; echo "listing: $(ls -A "$OUT" | tr "\\n" " ")"; '
    'echo "markdown: $(cat "$OUT/2026-11-27.md")"; exit $status',
    "sh",
]


def digest_run(config: Path, *prefix: str, day: str = DAY, env: dict | None = None, wait: bool = True):
    """`digest run` in a subprocess on the test session's Prefect API (behind `prefix`)."""
    import prefect.settings

    command = [*prefix, *DIGEST, "run", "--config", str(config), "--date", day]
    environment = {**os.environ, "PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value(), **(env or {})}
    if not wait:
        return subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)


def _require(tool: list[str]) -> None:
    probe = subprocess.run([*tool, "true"] if tool[0] == "setpriv" else tool[:4] + ["true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{tool[0]} cannot run here: {probe.stderr.decode(errors='replace').strip()}")


def last_flow_run_message() -> tuple[str, str]:
    """(state type, message) of the newest flow run: what the UI shows for it."""
    from prefect import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    async def read():
        async with get_client() as client:
            [flow_run] = await client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
            return flow_run.state.type.value, flow_run.state.message or ""

    return asyncio.run(read())


def _history(tmp_path: Path) -> list[str]:
    from tasks.store import Store, store_url

    store = Store.open(store_url(tmp_path / "data"))
    try:
        return [row["status"] for row in store.history()]
    finally:
        store.close()


@pytest.mark.parametrize("fault", ["disk full", "read-only folder"])
def test_unwritable_output_fails_clearly_replaces_nothing_and_the_next_run_completes(prefect_api, tmp_path, fault):
    from flows.daily_digest import run_daily_digest

    config, out = _config(tmp_path), tmp_path / "digests"
    out.mkdir()
    if fault == "disk full":
        _require(FULL_DISK)
        failed = digest_run(config, *FULL_DISK, env={"OUT": str(out)})
        assert "listing: 2026-11-27.md \n" in failed.stdout  # no temporary file, no new file
        assert "markdown: earlier" in failed.stdout  # not replaced: the day's files go in together
        reason = "No space left on device"
    else:
        _require(NO_DAC)
        (out / "2026-11-27.md").write_text("earlier\n")
        out.chmod(0o555)
        try:
            failed = digest_run(config, *NO_DAC)
        finally:
            out.chmod(0o755)
        assert _files(out) == {"2026-11-27.md": "earlier\n"}
        # The settings check the folder before any work: one line, no flow run.
        assert failed.returncode == 2 and f"digest.out_dir: {out}: {out} is not writable" in failed.stderr
    if fault == "disk full":
        assert failed.returncode != 0
        state, message = last_flow_run_message()
        assert state == "FAILED" and f"cannot write the digest to {out}: {reason}" in message, message
    earlier = ["failed"] if fault == "disk full" else []
    assert _history(tmp_path) == earlier

    run_daily_digest(date=DAY, config_path=str(config))
    assert sorted(_files(out)) == ["2026-11-27.html", "2026-11-27.json", "2026-11-27.md", "feed.xml", "index.html"]
    assert _history(tmp_path) == ["completed", *earlier]


@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_read_only_store_fails_the_run_naming_the_store(prefect_api, tmp_path, read_only):
    from flows.daily_digest import run_daily_digest

    _require(NO_DAC)
    config = _config(tmp_path)
    run_daily_digest(date="2026-11-26", config_path=str(config))
    store_file = tmp_path / "data" / "digest.sqlite3"
    locked = store_file if read_only == "file" else store_file.parent
    mode = locked.stat().st_mode
    locked.chmod(0o444 if read_only == "file" else 0o555)
    try:
        failed = digest_run(config, *NO_DAC)
    finally:
        locked.chmod(mode)
    if read_only == "folder":  # the settings check the store's folder before any work
        assert failed.returncode == 2 and f"digest.data_dir: {locked}: {locked} is not writable" in failed.stderr
    else:
        assert failed.returncode != 0
        state, message = last_flow_run_message()
        assert state == "FAILED" and f"StoreError: store sqlite:///{store_file}: " in message, message
        assert "attempt to write a readonly database" in message
    assert not (tmp_path / "digests" / f"{DAY}.json").exists()  # it stopped before any work

    run_daily_digest(date=DAY, config_path=str(config))
    assert (tmp_path / "digests" / f"{DAY}.json").exists()
    assert _history(tmp_path) == ["completed", "completed"]


class StopsMidRun(Inbox):
    """Stops the whole SMTP server while the first message's data is being sent."""

    controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.attempts += 1
        threading.Thread(target=self.controller.stop).start()
        await asyncio.sleep(60)  # cancelled by the stop: the client sees the connection drop


def test_smtp_server_stopped_mid_run_then_the_next_run_sends_once(prefect_api, tmp_path):
    from flows.daily_digest import run_daily_digest

    stopping = StopsMidRun()
    with smtp_server(stopping) as controller:
        stopping.controller = controller
        config = _french_config(tmp_path, controller.port)
        state = run_daily_digest(date=DAY, config_path=config, return_state=True)
    assert state.is_failed() and "the email failed: cannot reach the SMTP server" in state.message, state.message
    assert stopping.attempts == 1 and stopping.messages == []
    assert sorted(_files(tmp_path / "digests")) == [
        "2026-11-27.html",
        "2026-11-27.json",
        "2026-11-27.md",
        "feed.xml",
        "index.html",
    ]
    assert _history(tmp_path) == ["email failed"]

    inbox = Inbox()
    with smtp_server(inbox, port=controller.port):
        run_daily_digest(date=DAY, config_path=config)
        run_daily_digest(date=DAY, config_path=config)  # a third run: nothing left to send
    assert [recipients for recipients, _ in inbox.messages] == [["a@desk.example"], ["b@desk.example"]]
    assert _history(tmp_path) == ["completed", "completed", "email failed"]


class Hangs(Inbox):
    """Takes the message's data and never answers: the run is caught between storing and sending."""

    def __init__(self):
        super().__init__()
        self.reached = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.reached.set()
        await asyncio.sleep(120)


def test_killed_while_sending_the_next_run_sends_once(prefect_api, tmp_path):
    """SIGKILL at the last boundary (digest written and stored, email under way), then re-run."""
    from flows.daily_digest import run_daily_digest
    from tasks.store import Store, store_url

    hangs = Hangs()
    with smtp_server(hangs) as controller:
        config = _french_config(tmp_path, controller.port)
        process = digest_run(Path(config), wait=False)
        try:
            assert hangs.reached.wait(180), "the run never reached the email"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    written = _files(tmp_path / "digests")
    assert sorted(written) == ["2026-11-27.html", "2026-11-27.json", "2026-11-27.md", "feed.xml", "index.html"]
    store = Store.open(store_url(tmp_path / "data"))
    assert store.digest(date(2026, 11, 27)) is not None and store.delivered(date(2026, 11, 27), "email") == []

    inbox = Inbox()
    with smtp_server(inbox, port=controller.port):
        run_daily_digest(date=DAY, config_path=config)
        run_daily_digest(date=DAY, config_path=config)
    assert len(inbox.messages) == 2 and hangs.messages == []  # a message per recipient
    assert _files(tmp_path / "digests") == written
    assert sorted(store.delivered(date(2026, 11, 27), "email")) == ["a@desk.example", "b@desk.example"]
    assert [row["status"] for row in store.history()] == ["completed", "completed", "interrupted"]
