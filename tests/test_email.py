"""Email delivery against a real SMTP server on 127.0.0.1 (aiosmtpd), through the real flow."""

import json
import os
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from flows.prefect_api import free_port
from tests.conftest import ROOT
from tests.helpers import DIGEST, Inbox, french_config as _french_config

pytestmark = pytest.mark.prefect


@pytest.fixture
def smtp():
    def start(replies=("250 OK",), **options):
        inbox = Inbox(replies)
        port = free_port()  # aiosmtpd checks readiness by connecting to it
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return inbox, port

    started = []
    yield start
    for controller in started:
        controller.stop()


def test_digest_arrives_once_as_multipart_alternative_in_french(prefect_api, tmp_path, smtp):
    from flows.daily_digest import run_daily_digest

    inbox, port = smtp()
    config = _french_config(tmp_path, port)
    run_daily_digest(date="2026-11-27", config_path=config)
    assert [recipients for recipients, _ in inbox.messages] == [["a@desk.example"], ["b@desk.example"]]
    assert [m["To"] for _, m in inbox.messages] == ["a@desk.example", "b@desk.example"]
    message = inbox.messages[0][1]
    assert "List-Unsubscribe" not in message and "View this digest online" not in message.as_string()
    assert message["Subject"] == "Revue de presse — 2026-11-27 — 2 sujets"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "La préfecture du Rhône a fermé jeudi matin l’ensemble des quais" in plain
    assert "« injuste »" in plain and "« injuste »" in html and "\\<" not in plain
    assert "Rapport d’exécution" in html and "<script" not in html
    assert 'href="https://courrier-du-rhone.example/lyon/crue-rhone-quais-fermes"' in html

    run_daily_digest(date="2026-11-27", config_path=config)  # the same date again: not sent twice
    assert len(inbox.messages) == 2
    run_daily_digest(date="2026-11-27", config_path=config, resend=True)
    assert len(inbox.messages) == 4


def test_temporary_smtp_failure_is_retried(prefect_api, tmp_path, smtp):
    from flows.daily_digest import run_daily_digest

    inbox, port = smtp(["451 4.3.0 Try again later", "250 OK"])
    run_daily_digest(date="2026-11-27", config_path=_french_config(tmp_path, port))
    assert inbox.attempts == 3 and len(inbox.messages) == 2  # the first message retried once


def test_smtp_down_leaves_the_digest_on_disk_and_fails_the_run(prefect_api, tmp_path, smtp):
    from flows.daily_digest import run_daily_digest
    from tasks.store import Store, store_url

    inbox, port = smtp(["550 5.7.1 Relaying denied"])
    state = run_daily_digest(date="2026-11-27", config_path=_french_config(tmp_path, port), return_state=True)
    assert state.is_failed() and "550" in state.message
    assert state.message.count("Relaying denied") == 1  # said once for both recipients
    assert inbox.attempts == 2  # each recipient's message tried once: a permanent refusal is not retried
    assert json.loads((tmp_path / "digests" / "2026-11-27.json").read_text(encoding="utf-8"))["stories"]

    closed = tmp_path / "closed"
    closed.mkdir()
    state = run_daily_digest(date="2026-11-27", config_path=_french_config(closed, 9), return_state=True)
    assert state.is_failed() and "cannot reach the SMTP server" in state.message
    assert (closed / "digests" / "2026-11-27.md").exists()
    store = Store.open(store_url(closed / "data"))
    assert store.history()[0]["status"] == "email failed"
    assert store.delivered(date(2026, 11, 27), "email") == []


def test_a_non_ascii_address_without_smtputf8_fails_once_saying_why(prefect_api, tmp_path, smtp):
    from flows.daily_digest import run_daily_digest

    inbox, port = smtp(enable_SMTPUTF8=False)
    config = _french_config(tmp_path, port, recipients=["a@desk.example", "josé@desk.example"])
    state = run_daily_digest(date="2026-11-27", config_path=config, return_state=True)
    assert state.is_failed()
    assert "josé@desk.example: the SMTP server does not offer SMTPUTF8" in state.message, state.message
    # permanent: not retried; the other recipient has the digest, over the same connection
    assert inbox.greetings == 1 and [to for to, _ in inbox.messages] == [["a@desk.example"]]


def _digest_run(config: str) -> subprocess.CompletedProcess:
    """`digest run` as a user sees it: Prefect's own console lines give way to the display."""
    import prefect.settings

    env = {**os.environ, "PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value()}
    env.pop("PREFECT_LOGGING_LEVEL")
    return subprocess.run(
        [*DIGEST, "run", "--config", config, "--date", "2026-11-27"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_each_retry_is_shown_as_it_is_decided(prefect_api, tmp_path, smtp):
    inbox, port = smtp(["451 4.3.0 Try again later", "250 OK"])
    done = _digest_run(_french_config(tmp_path, port))
    assert done.returncode == 0, done.stderr
    [retry] = [line for line in (done.stdout + done.stderr).splitlines() if "; retry" in line]
    assert retry == "email: SMTP server answered 451: 4.3.0 Try again later; retry 1 in 0.2 s"
    assert inbox.attempts == 3 and len(inbox.messages) == 2


@pytest.mark.parametrize(
    "settings, reason",
    [
        ({"username": '"desk"', "password": '"secret"'}, "does not support what the settings ask: SMTP AUTH extension"),
        ({"security": '"ssl"'}, "TLS with the SMTP server failed"),
        ({"port": "closed"}, "nothing listens on 127.0.0.1:"),
    ],
    ids=["auth-not-offered", "ssl-to-a-plain-port", "nothing-listens"],
)
def test_a_permanent_smtp_error_is_tried_once_and_said_once(prefect_api, tmp_path, smtp, settings, reason):
    inbox, port = smtp()
    config = Path(_french_config(tmp_path, port))
    text = config.read_text(encoding="utf-8")
    for key, value in settings.items():
        if key == "port":
            text = text.replace(f"port = {port}", f"port = {free_port()}")  # nothing listens: refused
        elif f"\n{key} = " in text:
            text = re.sub(rf"\n{key} = .*", f"\n{key} = {value}", text)
        else:
            text = text.replace("[email]\n", f"[email]\n{key} = {value}\n")
    config.write_text(text, encoding="utf-8")
    done = _digest_run(str(config))
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert output.count(reason) == 1, output
    assert "; retry" not in output and inbox.greetings <= 1 and inbox.messages == []


DESK = ["a@desk.example", "b@desk.example", "c@desk.example"]


def test_each_recipient_gets_a_message_of_their_own_with_list_unsubscribe_and_a_link_online(
    prefect_api, tmp_path, smtp
):
    from flows.daily_digest import run_daily_digest

    inbox, port = smtp()
    config = _french_config(
        tmp_path,
        port,
        recipients=DESK,
        digest='public_url = "https://desk.example/revue/"\n',
        email='unsubscribe = "https://desk.example/unsubscribe?address={recipient}"\n',
    )
    run_daily_digest(date="2026-11-27", config_path=config)
    assert [to for to, _ in inbox.messages] == [[r] for r in DESK]
    page = "https://desk.example/revue/2026-11-27.html"
    for recipient, (_, message) in zip(DESK, inbox.messages):
        assert message.get_all("To") == [recipient] and "Cc" not in message and "Bcc" not in message
        assert message["List-Unsubscribe"] == f"<https://desk.example/unsubscribe?address={recipient}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        html = message.get_body(("html",)).get_content()
        plain = message.get_body(("plain",)).get_content()
        assert f'<a href="{page}" style="color:#6b6b66;">Voir ce digest en ligne</a>' in html
        assert f"Voir ce digest en ligne: <{page}>" in plain
    assert len({m["Message-ID"] for _, m in inbox.messages}) == 3
    # the page written is the one published: it does not link to itself
    assert "Voir ce digest en ligne" not in (tmp_path / "digests" / "2026-11-27.html").read_text(encoding="utf-8")


def test_a_mailto_unsubscribe_is_not_one_click(tmp_path):
    from tasks.deliver import EmailSettings, build_message

    settings = EmailSettings(sender="digest@desk.example", unsubscribe="mailto:off@desk.example?subject=unsubscribe")
    message = build_message(
        "s", "p", "<p>h</p>", settings, ["a@desk.example"], unsubscribe=settings.unsubscribe_for("a@desk.example")
    )
    assert message["List-Unsubscribe"] == "<mailto:off@desk.example?subject=unsubscribe>"
    assert "List-Unsubscribe-Post" not in message
    assert "List-Unsubscribe" not in build_message("s", "p", "<p>h</p>", settings, ["a@desk.example"])  # alerts
    long = EmailSettings(sender="d@desk.example", unsubscribe="https://desk.example/" + "u" * 200 + "?a={recipient}")
    header = build_message(
        "s", "p", "h", long, ["jo+sé@desk.example"], unsubscribe=long.unsubscribe_for("jo+sé@desk.example")
    )
    [line] = [line for line in header.as_string().splitlines() if line.startswith("List-Unsubscribe:")]
    assert "=?" not in line and line.endswith(">")  # not folded into encoded words: a client must read the URL
    assert header["List-Unsubscribe"].endswith("?a=jo%2Bs%C3%A9@desk.example>")


@pytest.mark.parametrize(
    "refusal", ["550 5.1.1 No such user", "450 4.2.1 Mailbox busy"], ids=["permanent", "temporary"]
)
def test_a_recipient_refused_does_not_stop_the_others_and_a_re_run_sends_only_to_them(
    prefect_api, tmp_path, smtp, refusal
):
    from flows.daily_digest import run_daily_digest
    from tasks.store import Store, store_url

    inbox, port = smtp()
    inbox.refused["b@desk.example"] = refusal
    config = _french_config(tmp_path, port, recipients=DESK)
    state = run_daily_digest(date="2026-11-27", config_path=config, return_state=True)
    assert state.is_failed()
    assert f"not sent to b@desk.example: recipients refused: b@desk.example ({refusal})" in state.message, state.message
    assert "sent to the other 2" in state.message
    assert [to for to, _ in inbox.messages] == [["a@desk.example"], ["c@desk.example"]]
    # a permanent refusal is tried once; a temporary one `retries` (2) more times, then the others go on
    assert inbox.rcpts.count("b@desk.example") == (1 if refusal.startswith("5") else 3)
    store = Store.open(store_url(tmp_path / "data"))
    try:
        assert sorted(store.delivered(date(2026, 11, 27), "email")) == ["a@desk.example", "c@desk.example"]
        assert store.history()[0]["status"] == "email failed"
    finally:
        store.close()

    del inbox.refused["b@desk.example"]  # the mailbox is back: the re-run sends to b alone
    run_daily_digest(date="2026-11-27", config_path=config)
    assert [to for to, _ in inbox.messages][2:] == [["b@desk.example"]]
    run_daily_digest(date="2026-11-27", config_path=config)  # everyone has it: nothing more
    assert len(inbox.messages) == 3


def test_send_each_reports_each_delivery_as_it_is_made(smtp):
    from tasks.deliver import EmailSettings, build_message, send_each

    inbox, port = smtp()
    inbox.refused["b@desk.example"] = "550 5.1.1 No such user"
    settings = EmailSettings(
        host="127.0.0.1", port=port, security="none", sender="digest@desk.example", recipients=DESK, retries=0
    )
    messages = [(r, build_message("s", "p", "<p>h</p>", settings, [r])) for r in DESK]
    sent = []
    failed = send_each(messages, settings, lambda *_: None, lambda r, message_id: sent.append((r, message_id)))
    assert sent == [("a@desk.example", messages[0][1]["Message-ID"]), ("c@desk.example", messages[2][1]["Message-ID"])]
    assert list(failed) == ["b@desk.example"] and not failed["b@desk.example"].temporary
    assert inbox.greetings == 1  # one connection for all


def test_a_temporary_failure_that_outlasts_its_retries_leaves_the_rest_untried(smtp):
    from tasks.deliver import EmailSettings, build_message, send_each

    inbox, port = smtp(["250 OK", "451 4.3.0 Try again later"])  # the first message goes, then the server balks
    settings = EmailSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        sender="digest@desk.example",
        recipients=DESK,
        retries=1,
        retry_delay=0.01,
    )
    messages = [(r, build_message("s", "p", "<p>h</p>", settings, [r])) for r in DESK]
    sent, retries = [], []
    failed = send_each(messages, settings, lambda *retry: retries.append(retry), lambda r, _: sent.append(r))
    assert sent == ["a@desk.example"] and sorted(failed) == ["b@desk.example", "c@desk.example"]
    assert failed["b@desk.example"] is failed["c@desk.example"] and failed["c@desk.example"].temporary
    assert inbox.attempts == 3 and len(retries) == 1  # b tried twice; c not tried: the server said wait
