"""Secrets: the SMTP password, from the environment or from a prefect-email block, through real
runs against an SMTP server that requires AUTH (a good and a refused login). It must appear
nowhere: not in logs (caplog, the captured output, the run's logs in the Prefect API), not in the
digest files, the store, the artifact, the run's state or its exception, nor anywhere in the
Prefect database itself. Sources take no credentials (no auth headers in SourceSpec).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import pytest

from tests.helpers import Inbox, french_config as _french_config, smtp_server

pytestmark = pytest.mark.prefect
USER = "desk@desk.example"
SECRET = "Pa55-w0rd-9f3c-never-shown"


def authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    # handled=False: aiosmtpd answers 535 itself (with handled=True it waits for us to, and the client times out).
    return AuthResult(success=auth_data.login == USER.encode() and auth_data.password == SECRET.encode(), handled=False)


def _forms(secret: str) -> list[bytes]:
    """The secret as is, and as AUTH PLAIN and AUTH LOGIN carry it on the wire (base64)."""
    return [secret.encode(), base64.b64encode(f"\0{USER}\0{secret}".encode()), base64.b64encode(secret.encode())]


def _prefect_database() -> list[Path]:
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url.get_secret_value()
    database = Path(url.split("///", 1)[1]) if url.startswith("sqlite") else None
    if database is None or not database.exists():
        pytest.skip(f"the test Prefect API's database is not a SQLite file here ({url.split(':')[0]})")
    return [p for p in database.parent.glob(database.name + "*") if p.is_file()]


def _run_logs(flow_run_id) -> str:
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()

    async def read():
        async with get_client() as client:
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            return "\n".join(log.message for log in logs)

    return asyncio.run(read())


def _block(port: int, password: str) -> str:
    from prefect_email import EmailServerCredentials

    name = f"smtp-{port}"
    EmailServerCredentials(
        smtp_server="127.0.0.1", smtp_port=port, smtp_type="INSECURE", username=USER, password=password
    ).save(name, overwrite=True)
    return name


@pytest.mark.parametrize("via", ["environment", "block"])
@pytest.mark.parametrize("password", [SECRET, "wrong-" + SECRET[::-1]], ids=["login", "refused"])
def test_the_smtp_password_never_shows(prefect_api, tmp_path, monkeypatch, caplog, capfd, via, password):
    from flows.daily_digest import run_daily_digest

    caplog.set_level(logging.DEBUG)
    inbox = Inbox()
    with smtp_server(inbox, authenticator=authenticator, auth_required=True, auth_require_tls=False) as controller:
        config = Path(_french_config(tmp_path, controller.port))
        if via == "environment":
            monkeypatch.setenv("DIGEST_SMTP_USER", USER)
            monkeypatch.setenv("DIGEST_SMTP_PASSWORD", password)
        else:
            config.write_text(
                config.read_text().replace('host = "127.0.0.1"', f'block = "{_block(controller.port, password)}"')
            )
        state = run_daily_digest(date="2026-11-27", config_path=str(config), return_state=True)

    if password == SECRET:
        assert state.is_completed(), state.message
        assert len(inbox.messages) == 2  # a message per recipient, over one login
    else:
        assert state.is_failed() and "SMTP server answered 535" in state.message, state.message
        assert inbox.messages == []
    error = state.result(raise_on_failure=False)
    places = {
        "state": f"{state.message} {error!r} {error}",
        "captured output": "".join(capfd.readouterr()),
        "log records": "\n".join(
            f"{r.getMessage()} {r.exc_text or ''} {r.args!r}"
            for r in caplog.records
            if not r.name.startswith("mail.log")
        ),  # aiosmtpd is the server's side
        "run logs in the API": _run_logs(state.state_details.flow_run_id),
    }
    for name, text in places.items():
        assert all(form.decode() not in text for form in _forms(password)), name
    # The digests, the store, Prefect's own database, and the run's persisted result (its exception).
    result_file = Path(getattr(getattr(state.data, "metadata", None), "storage_key", None) or tmp_path)
    files = [*tmp_path.rglob("*"), *_prefect_database(), result_file]
    assert any(f.name.endswith(".sqlite3") for f in files) and any(f.suffix == ".html" for f in files)
    for path in (f for f in files if f.is_file()):
        content = path.read_bytes()
        assert not any(form in content for form in _forms(password)), path
