"""Runs that meet on one store, on SQLite and PostgreSQL, emailing a real SMTP server (aiosmtpd):
two `digest run` processes at once (one date, two dates), `forget` during a run, and re-runs of a
day after other days ran (a backfill, texts pruned by retention)."""

import asyncio
import json
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES
from tests.helpers import DIGEST, Inbox, smtp_server

pytestmark = pytest.mark.prefect
RECIPIENTS = ["a@desk.example", "b@desk.example"]


class SlowInbox(Inbox):
    """Takes 3 s to accept a message: a run that checked "not sent yet" just before another run's
    send would send it again."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        await asyncio.sleep(3)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    from tasks.store import Store, metadata, store_url

    if request.param == "sqlite":
        yield store_url(tmp_path / "data")
        return
    url = os.environ.get("DIGEST_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("DIGEST_TEST_POSTGRES_URL is not set (scripts/test.sh sets it when it can start PostgreSQL)")
    metadata.drop_all(Store.open(url).engine)
    yield url
    metadata.drop_all(Store.open(url).engine)


def _config(tmp_path: Path, port: int, store: str) -> Path:
    sources = tmp_path / "in"
    shutil.copytree(SAMPLES, sources, dirs_exist_ok=True)
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[digest]\nout_dir = "{tmp_path / "digests"}"\nstore_url = "{store}"\n'
        f'[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "digest@desk.example"\n'
        f"recipients = {json.dumps(RECIPIENTS)}\nretries = 0\n"
        f'[[sources]]\nname = "samples"\npath = "{sources}"\n',
        encoding="utf-8",
    )
    return config


def _digest(*arguments: str) -> subprocess.Popen:
    import prefect.settings

    env = {**os.environ, "PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "INFO"}
    return subprocess.Popen(
        [*DIGEST, *arguments],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finished(*processes: subprocess.Popen) -> list[str]:
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * len(processes), "\n\n".join(outputs)
    return outputs


def _owners(store) -> dict:
    """Each dispatch's digest date."""
    from sqlalchemy import select

    from tasks.store import dispatches

    with store.engine.connect() as db:
        return {row.id: row.digest_date for row in db.execute(select(dispatches.c.id, dispatches.c.digest_date))}


def test_two_runs_of_one_date_at_once_email_each_recipient_once(prefect_api, tmp_path, store_url):
    from tasks.store import Store

    inbox = SlowInbox()
    with smtp_server(inbox) as controller:
        config = str(_config(tmp_path, controller.port, store_url))
        _finished(*(_digest("run", "--config", config, "--date", "2026-11-27") for _ in range(2)))
    assert [recipients for recipients, _ in inbox.messages] == [[r] for r in RECIPIENTS]  # a message each
    store = Store.open(store_url)
    assert [(run["status"], run["stories"]) for run in store.history()] == [("completed", 4)] * 2
    assert store.count("deliveries") == len(RECIPIENTS) and store.count("digests") == 1  # a row per recipient
    assert set(_owners(store).values()) == {date(2026, 11, 27)}


def test_two_dates_at_once_carry_each_dispatch_once(prefect_api, tmp_path, store_url):
    from tasks.store import Store

    inbox = SlowInbox()
    with smtp_server(inbox) as controller:
        config = str(_config(tmp_path, controller.port, store_url))
        _finished(
            _digest("run", "--config", config, "--date", "2026-11-27"),
            _digest("run", "--config", config, "--date", "2026-11-28"),
        )
    assert len(inbox.messages) == len(RECIPIENTS)  # the second run found everything in the first's digest
    message = inbox.messages[0][1]
    store = Store.open(store_url)
    [owner] = set(_owners(store).values())
    assert str(owner) in message["Subject"]
    assert sorted(run["stories"] for run in store.history()) == [0, 4]


def test_forget_during_a_run_waits_for_it(prefect_api, tmp_path, store_url):
    from tasks.store import Store

    with smtp_server(SlowInbox()) as controller:
        config = str(_config(tmp_path, controller.port, store_url))
        run = _digest("run", "--config", config, "--date", "2026-11-27")
        for line in run.stdout:
            if "Task run 'read-source" in line and "Finished" in line:
                break
        forget = _digest("forget", "--config", config, "--date", "2026-11-27")
        [_, forgotten] = _finished(run, forget)
    assert "6 dispatches, 1 digest, 2 deliveries forgotten" in forgotten  # after the run, not in its middle
    store = Store.open(store_url)
    assert (store.count("dispatches"), store.count("digests"), store.count("deliveries")) == (0, 0, 0)


def test_a_rerun_gives_the_same_digest_whatever_ran_between(prefect_api, tmp_path, store_url):
    """Run 11-27, backfill 11-24 to 11-26, re-run 11-27: the same digest, emailed once; a day run
    months later prunes 11-27's texts, and a re-run then keeps the fuller stored digest."""
    from flows.daily_digest import run_daily_digest

    inbox = Inbox()
    with smtp_server(inbox) as controller:
        config = str(_config(tmp_path, controller.port, store_url))
        first = run_daily_digest(date="2026-11-27", config_path=config)
        stored = (tmp_path / "digests" / "2026-11-27.json").read_text(encoding="utf-8")
        for day in ("2026-11-24", "2026-11-25", "2026-11-26"):
            assert run_daily_digest(date=day, config_path=config)["stories"] == 0  # 11-27 carried them
        again = run_daily_digest(date="2026-11-27", config_path=config)
        assert (again["stories"], again["kept"]) == (first["stories"], first["kept"]) == (4, 6)
        assert (
            json.loads((tmp_path / "digests" / "2026-11-27.json").read_text())["stories"]
            == json.loads(stored)["stories"]
        )
        assert len(inbox.messages) == len(RECIPIENTS)  # empty digests are not emailed, nor the same one twice

        run_daily_digest(date="2027-06-01", config_path=config)  # retention: 11-27's texts are pruned
        for name in ("chess-final.txt", "senat-budget-afp.txt", "rotterdam-strike-ap.json"):
            (tmp_path / "in" / name).unlink()
        kept = run_daily_digest(date="2026-11-27", config_path=config)
        assert not kept["written"] and kept["stories"] < 4
        assert (tmp_path / "digests" / "2026-11-27.json").read_text(encoding="utf-8") == stored
        replaced = run_daily_digest(date="2026-11-27", config_path=config, replace=True)
        assert replaced["written"] and replaced["stories"] == kept["stories"]
    assert len(inbox.messages) == 2 * len(RECIPIENTS)  # 11-27 and 2027-06-01, a message a recipient
