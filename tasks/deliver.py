"""Deliver a digest by email: one multipart/alternative message (plain text and HTML).

SMTP settings come from a prefect-email `EmailServerCredentials` block, or from the
config and the environment (DIGEST_SMTP_*). The password is a secret: never logged,
never in an exception's message. Temporary failures (4xx replies, lost connections, timeouts)
are retried, each retry said as it is decided; permanent ones (5xx, nothing listening on the port,
TLS that does not match the port, AUTH or STARTTLS not offered, an address the server cannot
take) are not.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
import unicodedata
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from typing import Annotated, Callable, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

# name@domain: no space, control character or address punctuation (a header could be injected or
# the address split); non-ASCII allowed, as SMTPUTF8 servers take it. The domain may be an intranet host.
ADDRESS = re.compile(r'[^\s\x00-\x1f\x7f@<>()\[\],;:\\"]+@[\w-]+(?:\.[\w-]+)*')


def _one_line(text: str) -> str:
    """Text bound for an email header: a line break there fails the message after the digest is written."""
    breaks = [c for c in text if unicodedata.category(c) in {"Cc", "Zl", "Zp"} and c != "\t"]
    if breaks:
        raise ValueError(f"holds a line break or control character (U+{ord(breaks[0]):04X}); write it on one line")
    return text


def _address(text: str) -> str:
    if not ADDRESS.fullmatch(text):
        raise ValueError(f'"{_shown(text)}" is not an email address (write it as name@example.org)')
    return text


def _shown(text: str) -> str:
    """`text` for a one-line message: control characters escaped (\\r, \\n)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


HeaderText = Annotated[str, AfterValidator(_one_line)]
EmailAddress = Annotated[str, AfterValidator(_address)]


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    block: str | None = Field(None, description="name of a prefect-email EmailServerCredentials block")
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535, description="default: 465 for ssl, 587 for starttls, 25 for none")
    security: Literal["ssl", "starttls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: EmailAddress | None = Field(None, description="From: address")
    sender_name: HeaderText = "Dispatch Digest"
    recipients: list[EmailAddress] = Field(default_factory=list)
    # Upper bounds: RFC 5321's longest SMTP timeout is 10 minutes (TOML's `inf` overflows the socket's),
    # and 10 retries from 600 s already span a week.
    timeout: float = Field(30.0, gt=0, le=600)
    retries: int = Field(3, ge=0, le=10)
    retry_delay: float = Field(10.0, ge=0, le=600, description="seconds before the first retry; doubled after each")
    send_empty: bool = Field(False, description="email a digest that has no story")

    @field_validator("recipients")
    @classmethod
    def _each_once(cls, recipients: list[str]) -> list[str]:
        seen = set()
        for address in recipients:
            if address.casefold() in seen:
                raise ValueError(f'"{address}" is listed twice (list each recipient once)')
            seen.add(address.casefold())
        return recipients

    @property
    def enabled(self) -> bool:
        return bool(self.recipients)


class DeliveryError(RuntimeError):
    """Sending failed; `temporary` says whether trying again may help."""

    def __init__(self, message: str, temporary: bool):
        super().__init__(message)
        self.temporary = temporary


def build_message(subject: str, plain: str, html: str, settings: EmailSettings, recipients: list[str]) -> EmailMessage:
    if not settings.sender:
        raise DeliveryError("no sender address: set email.sender or DIGEST_EMAIL_FROM", temporary=False)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((settings.sender_name, settings.sender))
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(plain)
    message.add_alternative(html, subtype="html")
    return message


def send(message: EmailMessage, settings: EmailSettings) -> str:
    """Send and return the Message-ID; raises DeliveryError with a reason that holds no secret."""
    try:
        with _connect(settings) as server:
            _require_smtputf8(server, message)
            server.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP server answered {exc.smtp_code}: {_text(exc.smtp_error)}",
                            temporary=400 <= exc.smtp_code < 500) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(f"recipients refused: {', '.join(sorted(exc.recipients))}",
                            temporary=all(400 <= c < 500 for c in codes)) from None
    except smtplib.SMTPNotSupportedError as exc:  # AUTH or STARTTLS not offered: no retry changes that
        raise DeliveryError(f"the SMTP server does not support what the settings ask: {exc} (check "
                            "email.security, email.username)", temporary=False) from None
    except ssl.SSLError as exc:  # TLS spoken to a plain port or the reverse, or a certificate refused
        raise DeliveryError(f"TLS with the SMTP server failed: {exc.reason or exc} (port 465 speaks "
                            "security = \"ssl\", 587 \"starttls\", 25 \"none\")", temporary=False) from None
    except ConnectionRefusedError:
        raise DeliveryError(f"cannot reach the SMTP server: nothing listens on {settings.host}:"
                            f"{smtp_port(settings)} (check email.host and email.port)", temporary=False) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"cannot reach the SMTP server: {exc.__class__.__name__}: {exc}", temporary=True) from None
    return message["Message-ID"]


def send_with_retries(message: EmailMessage, settings: EmailSettings,
                      on_retry: Callable[[str, int, float], None]) -> str:
    """`send`, tried again after a temporary failure (`retries` times, the delay doubled each time);
    `on_retry(reason, retry number, delay)` hears each retry before its wait."""
    retries = 0
    while True:
        try:
            return send(message, settings)
        except DeliveryError as exc:
            if not exc.temporary or retries == settings.retries:
                raise
            delay = settings.retry_delay * 2**retries
            retries += 1
            on_retry(str(exc), retries, delay)
            time.sleep(delay)


def smtp_port(settings: EmailSettings) -> int:
    return settings.port or {"ssl": 465, "starttls": 587, "none": 25}[settings.security]


def _require_smtputf8(server: smtplib.SMTP, message: EmailMessage) -> None:
    """Non-ASCII addresses need a server that offers SMTPUTF8: without it no retry can help
    (smtplib's own error for this was taken for a lost connection and retried)."""
    headers = [value for name in ("From", "To") for value in message.get_all(name, [])]
    non_ascii = [address for _, address in getaddresses(headers) if not address.isascii()]
    server.ehlo_or_helo_if_needed()
    if non_ascii and not server.has_extn("smtputf8"):
        raise DeliveryError(without_smtputf8(non_ascii), temporary=False)


def without_smtputf8(addresses: list[str]) -> str:
    return (f"{', '.join(addresses)}: the SMTP server does not offer SMTPUTF8, which a non-ASCII address needs "
            "(use an ASCII address or a server that offers SMTPUTF8)")


def _connect(settings: EmailSettings) -> smtplib.SMTP:
    if settings.block:
        from prefect_email import EmailServerCredentials

        return EmailServerCredentials.load(settings.block).get_server()
    if not settings.host:
        raise DeliveryError("no SMTP host: set email.host, DIGEST_SMTP_HOST or email.block", temporary=False)
    context = ssl.create_default_context()
    if settings.security == "ssl":
        server = smtplib.SMTP_SSL(settings.host, smtp_port(settings), timeout=settings.timeout, context=context)
    else:
        server = smtplib.SMTP(settings.host, smtp_port(settings), timeout=settings.timeout)
        if settings.security == "starttls":
            server.starttls(context=context)
    if settings.username:
        server.login(settings.username, settings.password.get_secret_value() if settings.password else "")
    return server


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


@task(name="send-email", cache_policy=NO_CACHE)
def send_task(message: EmailMessage, settings: EmailSettings, on_retry: Callable[[str, int, float], None]) -> str:
    """One task for the sending and its retries: Prefect's own retries logged the same failure, with
    its traceback, once an attempt, and said nothing of the wait."""
    return send_with_retries(message, settings, on_retry)
