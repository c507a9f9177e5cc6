"""`digest check`: every problem of a configuration, one line each (file, key, fix), without running.

`digest run` and `digest serve` call the same checks before any work, so a bad config fails the
same way everywhere; but not the checks of what may change by the time a run starts (URLs that
answer, local folders that exist): a source missing then is a line in that run's report.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from flows.settings import ConfigError, Settings, load_settings, origin
from tasks.deliver import EmailSettings, smtp_port, without_smtputf8
from tasks.fetch import FetchError, unsafe_address
from tasks.sources import SourceSpec

PROBE_TIMEOUT = 5.0  # seconds: a check must stay quick even when a host never answers
STATUS_HINTS = {
    401: "it needs a login, which sources do not support",
    403: "the outlet refuses this client: set [fetch] user_agent to name your desk and a contact, or use its sitemap",
    404: "check the address",
    410: "the page is gone: check the address",
    429: "the server asks to slow down: try again later",
}
SECURE_PORTS = {"ssl": 465, "starttls": 587}


def problem(file: Path, key: str, text: str) -> str:
    return f"{origin(file, key)}: {key}: {text}"


def check_config(
    path: Path, *, offline: bool = True, smtp: bool = False, out_dir: Path | None = None, sources_now: bool = True
) -> list[str]:
    """Every problem found in the config at `path`; `out_dir` is a run's output folder instead of the config's;
    `sources_now`: also whether the local sources' files exist now."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return exc.problems  # the rest needs valid settings
    problems = [
        *source_problems(path, settings.sources, sources_now),
        *schedule_problems(path, settings),
        *folder_problems(path, settings, out_dir),
        *email_problems(path, settings.email),
    ]
    if not offline:
        problems += asyncio.run(reachability_problems(path, settings))
    if smtp:
        problems += smtp_problems(path, settings.email)
    return problems


def source_problems(file: Path, sources: list[SourceSpec], paths: bool = True) -> list[str]:
    problems, first_named = [], {}
    for n, source in enumerate(sources):
        key = f"sources.{n}"
        if source.name in first_named:
            problems.append(
                problem(
                    file,
                    f"{key}.name",
                    f'"{source.name}" already names sources.{first_named[source.name]} (give each source its own name)',
                )
            )
        first_named.setdefault(source.name, n)
        for field, local_path in (("path", source.path), ("urls_file", source.urls_file)):
            if paths and local_path and not local_path.exists():
                problems.append(
                    problem(
                        file,
                        f"{key}.{field}",
                        f"{local_path} does not exist (paths are relative to the config file's folder)",
                    )
                )
        problems += [
            problem(
                file, url_key, f'"{url}" is not an http(s) URL (write it in full, e.g. https://www.example.com/rss.xml)'
            )
            for url_key, url in _urls(key, source)
            if not _well_formed(url)
        ]
    return problems


def _urls(key: str, source: SourceSpec) -> list[tuple[str, str]]:
    """(key, URL) of every address a source names."""
    named = [(f"{key}.url", source.url)] if source.url else []
    return named + [(f"{key}.urls.{n}", url) for n, url in enumerate(source.urls)]


def _well_formed(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def schedule_problems(file: Path, settings: Settings) -> list[str]:
    """Schedules naming sources the config does not have (cron and time zone are checked when parsing)."""
    names = {source.name for source in settings.sources}
    return [
        problem(file, f"schedules.{n}.sources", f'no source named "{name}" (the config has {", ".join(sorted(names))})')
        for n, schedule in enumerate(settings.schedules)
        for name in schedule.sources or []
        if name not in names
    ]


def folder_problems(file: Path, settings: Settings, out_dir: Path | None) -> list[str]:
    folders = [("digest.out_dir", out_dir or settings.digest.out_dir)]
    folders += [(f"schedules.{n}.out_dir", Path(s.out_dir)) for n, s in enumerate(settings.schedules) if s.out_dir]
    if not settings.digest.store_url:  # a store URL replaces the data folder
        folders.append(("digest.data_dir", settings.digest.data_dir))
    return [
        problem(
            file, key, f"{why} (choose a folder you can write to; relative paths start from the folder digest runs in)"
        )
        for key, folder in folders
        if (why := unwritable(folder))
    ]


def unwritable(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (created when missing), or None."""
    existing = folder.absolute()  # not resolved: a link that leads nowhere stops mkdir, as it must stop this
    while not os.path.lexists(existing):
        existing = existing.parent
    if existing.is_symlink() and not existing.exists():
        return f"{folder} cannot be created: {existing} is a broken symbolic link (to {os.readlink(existing)})"
    if not existing.is_dir():
        return f"{folder} cannot be created: {existing} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{folder}: {existing} is not writable"
    return None


def email_problems(file: Path, email: EmailSettings) -> list[str]:
    """What would stop sending, found without connecting."""
    problems = []
    who = "recipients are" if email.enabled else "alerts are" if email.alerts else None
    if who and not email.sender:
        problems.append(
            problem(file, "email.sender", f"{who} set but no sender address (set email.sender or DIGEST_EMAIL_FROM)")
        )
    if who and not (email.host or email.block):
        problems.append(
            problem(
                file, "email.host", f"{who} set but no SMTP server (set email.host or DIGEST_SMTP_HOST, or email.block)"
            )
        )
    for security, port in SECURE_PORTS.items():
        if email.port == port and email.security not in {security, "none"}:
            problems.append(
                problem(
                    file,
                    "email.security",
                    f"port {port} speaks {security.upper()} "
                    f'(set security = "{security}", or port = {SECURE_PORTS[email.security]} '
                    f"for {email.security})",
                )
            )
    return problems


async def reachability_problems(file: Path, settings: Settings) -> list[str]:
    """Each source URL answered with a short timeout, all at once; HEAD first, GET when HEAD is refused."""
    targets = [
        (key, url, source.local)
        for n, source in enumerate(settings.sources)
        for key, url in _urls(f"sources.{n}", source)
        if _well_formed(url)
    ]
    timeout = httpx.Timeout(PROBE_TIMEOUT)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=True, headers={"User-Agent": settings.fetch.user_agent}
    ) as client:
        found = await asyncio.gather(*(_probe(client, url, local) for _, url, local in targets))
    return [problem(file, key, why) for (key, _, _), why in zip(targets, found) if why]


async def _probe(client: httpx.AsyncClient, url: str, local: bool) -> str | None:
    """Why `url` cannot be read by a run, or None."""
    host = urlsplit(url).hostname
    try:
        address = None if local else await asyncio.to_thread(unsafe_address, host)
        if address:
            return f"{host} is a loopback or private address ({address}), refused unless the source sets local = true"
        response = await client.head(url)
        if response.status_code >= 400:  # some servers refuse HEAD but serve GET
            async with client.stream("GET", url) as response:
                pass
    except FetchError as exc:
        return f"{exc} (check the host name)"
    except httpx.TimeoutException:
        return (
            f"no answer from {host} within {PROBE_TIMEOUT:g} s (check the address; `digest check --offline` skips this)"
        )
    except httpx.HTTPError as exc:
        return f"cannot reach {host}: {exc.__class__.__name__}: {exc} (check the address)"
    if response.status_code >= 400:
        hint = STATUS_HINTS.get(
            response.status_code,
            "the server failed: try again later" if response.status_code >= 500 else "check the address",
        )
        return f"{url} answered HTTP {response.status_code} ({hint})"
    return None


def smtp_problems(file: Path, email: EmailSettings) -> list[str]:
    """Connect and say EHLO (and STARTTLS when configured): no login, no message. With email.block, the
    server is the prefect-email block's, as when sending (its host, port, type and certificate check)."""
    if email.block:
        try:
            server = block_server(email.block)
        except Exception as exc:  # noqa: BLE001 (a missing block, an API that does not answer: said, not raised)
            return [
                problem(
                    file,
                    "email.block",
                    f'cannot load the prefect-email block "{email.block}": '
                    f"{exc.__class__.__name__}: {exc} (create it, or check PREFECT_API_URL)",
                )
            ]
        key = "email.block"
    elif email.host:
        server = SmtpServer(email.host, smtp_port(email), email.security)
        key = "email.host"
    else:
        return [
            problem(file, "email.host", "no SMTP host to check (set email.host or DIGEST_SMTP_HOST, or email.block)")
        ]
    where = f"{server.host}:{server.port}"
    try:
        offers_smtputf8 = greet_smtp(server, min(email.timeout, PROBE_TIMEOUT))
    except (ssl.SSLError, smtplib.SMTPNotSupportedError) as exc:
        fix = (
            "check the block's smtp_type and smtp_port"
            if email.block
            else '465 is security = "ssl", 587 "starttls", a local relay on 25 "none"'
        )
        return [
            problem(file, "email.block" if email.block else "email.security", f"TLS failed with {where}: {exc} ({fix})")
        ]
    except (OSError, smtplib.SMTPException) as exc:
        fix = (
            "check the block's smtp_server, smtp_port and smtp_type"
            if email.block
            else "check email.host, email.port and email.security"
        )
        return [problem(file, key, f"cannot talk to {where}: {exc.__class__.__name__}: {exc} ({fix})")]
    if offers_smtputf8:
        return []
    recipients = [(f"email.recipients.{n}", address) for n, address in enumerate(email.recipients)]
    addresses = [("email.sender", email.sender), *recipients]
    return [
        problem(file, key, without_smtputf8([address]))
        for key, address in addresses
        if address and not address.isascii()
    ]


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str  # ssl, starttls or none
    verify: bool = True  # check the server's certificate


def block_server(name: str) -> SmtpServer:
    """The server a prefect-email EmailServerCredentials block sends through (what its get_server()
    connects to), read without connecting or logging in."""
    from prefect_email import EmailServerCredentials
    from prefect_email.credentials import SMTPServer, SMTPType

    block = EmailServerCredentials.load(name)
    host = block.smtp_server.value if isinstance(block.smtp_server, SMTPServer) else str(block.smtp_server)
    security = {SMTPType.SSL: "ssl", SMTPType.STARTTLS: "starttls", SMTPType.INSECURE: "none"}[block.smtp_type]
    return SmtpServer(host, block.smtp_port or block.smtp_type.value, security, block.verify is not False)


def greet_smtp(server: SmtpServer, timeout: float) -> bool:
    """Say EHLO (and STARTTLS when configured); whether the server offers SMTPUTF8 (non-ASCII addresses need it)."""
    context = ssl.create_default_context()
    if not server.verify:  # as the block's own get_server()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if server.security == "ssl":
        connection = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with connection:
        connection.ehlo()
        if server.security == "starttls":
            connection.starttls(context=context)
            connection.ehlo()  # the extensions offered before TLS no longer hold
        return connection.has_extn("smtputf8")
