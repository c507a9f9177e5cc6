"""What tests share (test modules never import each other): dispatches built from plain text, configs,
the `digest` command, an SMTP inbox, fetch options and pages, a browser check."""

import asyncio
import email
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from datetime import date
from email import policy
from pathlib import Path

import pytest

from tasks.clean import CleaningRules, clean
from tasks.dedup import DedupOptions, dedup_within
from tasks.fetch import Fetcher, FetchOptions
from tasks.models import Dispatch, Failure, RawDispatch, Removal, parse_datetime
from tests.conftest import SAMPLES

# `digest` as this interpreter runs it, for tests that run the CLI in a subprocess: [*DIGEST, "run", ...]
DIGEST = [sys.executable, "-m", "flows.cli"]
FRENCH_SAMPLES = ("lyon-crue-afp.txt", "lyon-crue-progres.html", "senat-budget-afp.txt")


# --- dispatches: the one builder (a raw dispatch, cleaned, then without its repeats) ----------------


def raw_dispatch(
    body: str,
    kind: str = "text",
    *,
    outlet: str | None = None,
    title: str | None = None,
    published: str | None = None,
    url: str | None = None,
    source: str = "test",
    location: str | None = None,
) -> RawDispatch:
    """A dispatch as a source hands it over: `body` (text or HTML) and what the source says of it."""
    return RawDispatch(
        source=source,
        location=location or url or f"test:{outlet}:{title}",
        body=body,
        kind=kind,
        outlet=outlet,
        title=title,
        published=parse_datetime(published),
        url=url,
    )


def rules_for(language: str | None = None, **rules) -> CleaningRules:
    """Cleaning rules; with `language`, that language alone (and the default)."""
    if language:
        rules = {"languages": (language,), "default_language": language, **rules}
    return CleaningRules(**rules)


def cleaned(
    body: str, kind: str = "text", *, language: str | None = None, rules: CleaningRules | None = None, **raw
) -> tuple[Dispatch | None, list[Removal], Failure | None]:
    """`clean` of `raw_dispatch(body, kind, **raw)`: (dispatch, removals, failure)."""
    return clean(raw_dispatch(body, kind, **raw), rules or rules_for(language))


def deduped(body: str, kind: str = "text", **options) -> tuple[Dispatch, list[Removal]]:
    """`body` cleaned (it must be usable), then without the sentences it says twice: (dispatch, removals)."""
    dispatch, _, failure = cleaned(body, kind, **options)
    assert failure is None, failure
    return dedup_within(dispatch, DedupOptions())


def make_dispatch(
    text: str, outlet: str = "Test", title: str | None = None, published: str | None = None, language: str | None = None
) -> Dispatch:
    """A dispatch as the pipeline gives it to clustering: cleaned and without repeats."""
    return deduped(text, outlet=outlet, title=title, published=published, language=language)[0]


def load_all(spec) -> tuple[list, list]:
    """(raws, failures) of a files source, collected."""
    from tasks.sources import load_source

    raws: list = []
    failures = load_source(spec, lambda raw, _: raws.append(raw))
    return raws, failures


class SlowToRead(str):
    """A page body that takes `SLOW_READ_SECONDS` to unpickle: a page a worker is slow to clean."""

    def __reduce__(self):
        return (_read_slowly, (str(self),))


SLOW_READ_SECONDS = 0.5


def _read_slowly(text: str) -> str:
    time.sleep(SLOW_READ_SECONDS)
    return text


class KillsItsReader(str):
    """A page body that kills the process unpickling it: a worker that dies on a page."""

    def __reduce__(self):
        import os

        return (os._exit, (3,))


def french_samples(folder: Path) -> Path:
    """`folder`, made, with the three French samples (two outlets on one flood, one on the budget)."""
    folder.mkdir()
    for name in FRENCH_SAMPLES:
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    return folder


def french_config(
    tmp_path: Path, port: int, recipients=("a@desk.example", "b@desk.example"), digest: str = "", email: str = ""
) -> str:
    """A config of the three French samples, emailed through 127.0.0.1:`port`."""
    folder = french_samples(tmp_path / "fr")
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[digest]\ntitle = "Revue de presse"\nout_dir = "{tmp_path / "digests"}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'{digest}[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "digest@desk.example"\n{email}'
        f"recipients = {json.dumps(list(recipients), ensure_ascii=False)}\nretries = 2\nretry_delay = 0.2\n"
        f'[[sources]]\nname = "fr"\npath = "{folder}"\n',
        encoding="utf-8",
    )
    return str(config)


def samples_config(tmp_path: Path, extra: str = "") -> Path:
    """A config reading samples/, writing in `tmp_path`; `extra` is appended."""
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[digest]\ntitle = "Test digest"\nout_dir = "{tmp_path / "digests"}"\ndata_dir = "{tmp_path / "data"}"\n\n'
        f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n{extra}',
        encoding="utf-8",
    )
    return config


def files_in(folder: Path) -> dict[str, str]:
    """Each file's text in `folder`, by name ({} when there is no folder)."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())} if folder.exists() else {}


# --- email --------------------------------------------------------------------------------------------


class Inbox:
    """Collects messages; `replies` scripts the answers to DATA (the last one repeats); `refused` maps an
    address to the answer to its RCPT TO (the others are taken)."""

    def __init__(self, replies=("250 OK",)):
        self.messages, self.attempts, self.replies = [], 0, list(replies)
        self.greetings = 0  # EHLOs: one a connection, so one a sending attempt, even one that stops before DATA
        self.refused: dict[str, str] = {}
        self.rcpts: list[str] = []  # every RCPT TO, refused or not

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        self.rcpts.append(address)
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 (aiosmtpd's name)
        self.greetings += 1
        session.host_name = hostname  # what aiosmtpd does itself when a handler has no EHLO hook
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        reply = self.replies[min(self.attempts, len(self.replies) - 1)]
        self.attempts += 1
        if reply.startswith("250"):
            self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
        return reply


@contextmanager
def smtp_server(handler, port: int | None = None, **options):
    """aiosmtpd on 127.0.0.1 with `handler` (and Controller options such as an authenticator)."""
    from aiosmtpd.controller import Controller

    from flows.prefect_api import free_port

    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port(), **options)
    controller.start()
    try:
        yield controller
    finally:
        if controller._thread is not None:  # a test may have stopped it already
            controller.stop()


# --- fetching -----------------------------------------------------------------------------------------

FETCH_DAY = date(2026, 11, 27)
FAST = FetchOptions(host_delay=0, backoff=0.01, read_timeout=1, connect_timeout=1, retries=2, max_bytes=200_000)


def article(title: str, *paragraphs: str, charset: str = "utf-8", meta: bool = True) -> str:
    head = f'<meta charset="{charset}">' if meta else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head>{head}<title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article></body></html>"
    )


PAGE = article(
    "Storm hits the coast",
    "A powerful storm hit the northern coast on Friday, cutting power to 40,000 homes, officials said.",
    "Emergency services evacuated two villages overnight as the river rose above its banks.",
    "Forecasters expect the wind to ease by Saturday evening, but warned of more rain next week.",
)


def rss(*items: tuple[str, str, str]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><pubDate>{d}</pubDate>"
        f"<description>&lt;p&gt;Summary of {t} carried by the feed itself, long enough to read.&lt;/p&gt;</description></item>"
        for t, link, d in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>{body}</channel></rss>'


def run_source(spec, options: FetchOptions = FAST, validators: dict | None = None):
    """`read_source` of `spec` on FETCH_DAY with a Fetcher of `options`."""
    from tasks.sources import read_source

    async def go():
        async with Fetcher(options) as fetcher:
            return await read_source(spec, fetcher, validators or {}, FETCH_DAY)

    return asyncio.run(go())


# --- the browser --------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and quiet: nothing of Chromium's own calls home (the pages' requests are routed by each caller).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser() -> None:
    """Skips the test without Debian's chromium or playwright; fails it in CI."""
    reason = None
    if not Path(CHROMIUM).exists():
        reason = "Debian's chromium is not installed (scripts/test.sh installs it when run as root)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[test]')"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI requires it")
        pytest.skip(reason)


# --- a digest -----------------------------------------------------------------------------------------

HOSTILE_SENTENCE = (
    'Le « maire » a dit <script>alert("x")</script> & <img src=x onerror=alert(1)> *gras* [lien](javascript:alert(1))'
)


def hostile_digest(url: str = "javascript:alert(1)", language: str = "fr"):
    """A one-story digest whose every field a reader sees carries markup or an unsafe link."""
    from tasks.models import Attribution, Digest, RunReport, Story, StorySummary, SummarySentence

    dispatch = make_dispatch("Le conseil a voté le budget lundi soir.", outlet="L'Écho <b>", language="fr")
    attribution = Attribution(dispatch.id, dispatch.source, dispatch.location, url, "t")
    story = Story(1, (dispatch,), "Budget : « vote » <b>serré</b>", 1.0)
    report = RunReport(
        dispatches_read=3,
        dispatches_kept=1,
        failures=[Failure("feed <x>", "https://bad.example/", "HTTP 404")],
        removals=[Removal("clean", dispatch.id, "s", "(Photo AFP)", "photo caption or credit")],
    )
    summary = StorySummary(story, (SummarySentence(HOSTILE_SENTENCE, (attribution,)),))
    return Digest(date(2026, 11, 27), "Revue de presse", language, [summary], report)
