"""Deliver a digest by email: one multipart/alternative message (plain text and HTML) per recipient,
addressed to that recipient alone, with List-Unsubscribe (RFC 2369, RFC 8058) when `email.unsubscribe` is set.

SMTP settings come from a prefect-email `EmailServerCredentials` block, or from the
config and the environment (DIGEST_SMTP_*). The password is a secret: never logged,
never in an exception's message. Temporary failures (4xx replies, lost connections, timeouts)
are retried, each retry said as it is decided; permanent ones (5xx, nothing listening on the port,
TLS that does not match the port, AUTH or STARTTLS not offered, an address the server cannot
take) are not. `send_each` sends a message per recipient over one connection: a recipient refused
does not stop the others, and each delivery is reported as it is made, so that it can be recorded at once.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from typing import Annotated, Literal, cast
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from tasks.errors import DeliveryError  # defined there, with the other errors; imported from here too

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


def _unsubscribe_uri(text: str) -> str:
    """A mailto: or https: URI for List-Unsubscribe: it goes between angle brackets, unfolded."""
    scheme = text.partition(":")[0].lower()
    if scheme not in {"mailto", "https"}:
        raise ValueError(
            f'"{_shown(text)}" is not a mailto: or https: URL (write it as '
            '"mailto:unsubscribe@example.org" or "https://example.org/unsubscribe?address={recipient}")'
        )
    if re.search(r"[\s<>\"\\\x00-\x1f\x7f]", text) or len(text) > 900:
        raise ValueError(
            f'"{_shown(text)}" holds a space, angle bracket, quote or control character, or is over 900 '
            "characters (percent-encode it)"
        )
    if scheme == "https" and not urlsplit(text.replace(RECIPIENT, "")).hostname:
        raise ValueError(f'"{_shown(text)}" has no host')
    if scheme == "mailto" and not ADDRESS.match(text.partition(":")[2].replace(RECIPIENT, "x")):
        raise ValueError(f'"{_shown(text)}" does not start with an email address after mailto:')
    return text


RECIPIENT = "{recipient}"  # in email.unsubscribe: the recipient's address, percent-encoded
HeaderText = Annotated[str, AfterValidator(_one_line)]
EmailAddress = Annotated[str, AfterValidator(_address)]
UnsubscribeURI = Annotated[str, AfterValidator(_unsubscribe_uri)]
# Header lines up to RFC 5322's 998 characters: the default 78 wrapped a long List-Unsubscribe URL in
# encoded words, which no mail client takes for a URL.
MESSAGE_POLICY = policy.default.clone(max_line_length=998)


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
    alerts: list[EmailAddress] = Field(
        default_factory=list,
        description="addresses emailed (through the same SMTP settings) when a run fails or a "
        "source fails, once per run; empty: no alert email (the Prefect event is emitted either way)",
    )
    unsubscribe: UnsubscribeURI | None = Field(
        None,
        description="List-Unsubscribe of the digest's messages: a mailto: or https: URL, where {recipient} "
        "stands for the recipient's address; an https one is also one-click (RFC 8058: List-Unsubscribe-Post)",
    )

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

    def unsubscribe_for(self, recipient: str) -> str | None:
        """`unsubscribe` with {recipient} replaced by `recipient`, percent-encoded; None when unset."""
        if self.unsubscribe is None:
            return None
        return self.unsubscribe.replace(RECIPIENT, quote(recipient, safe="@"))


class RecipientRefused(DeliveryError):
    """The server refused the message's recipient (or cannot take its address): others may still be sent."""


def build_message(
    subject: str, plain: str, html: str, settings: EmailSettings, recipients: list[str], unsubscribe: str | None = None
) -> EmailMessage:
    """The message to `recipients`; with `unsubscribe` (a URI from `EmailSettings.unsubscribe_for`), its
    List-Unsubscribe header, and List-Unsubscribe-Post when the URI is https (RFC 8058 one-click)."""
    if not settings.sender:
        raise DeliveryError("no sender address: set email.sender or DIGEST_EMAIL_FROM", temporary=False)
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["Subject"] = subject
    message["From"] = formataddr((settings.sender_name, settings.sender))
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{_unsubscribe_uri(unsubscribe)}>"
        if unsubscribe.lower().startswith("https:"):
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(plain)
    message.add_alternative(html, subtype="html")
    return message


def send(message: EmailMessage, settings: EmailSettings) -> str:
    """Send and return the Message-ID; raises DeliveryError with a reason that holds no secret."""
    with _classified(settings), _connect(settings) as server:
        _require_smtputf8(server, message)
        server.send_message(message)
    return cast(str, message["Message-ID"])  # build_message sets it


@contextmanager
def _classified(settings: EmailSettings) -> Iterator[None]:
    """SMTP and socket errors as DeliveryError: temporary or not, worded without a secret."""
    try:
        yield
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP server answered {exc.smtp_code}: {_text(exc.smtp_error)}", temporary=400 <= exc.smtp_code < 500
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        replies = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
        raise RecipientRefused(
            f"recipients refused: {', '.join(sorted(exc.recipients))} ({replies})",
            temporary=all(400 <= c < 500 for c in codes),
        ) from None
    except smtplib.SMTPNotSupportedError as exc:  # AUTH or STARTTLS not offered: no retry changes that
        raise DeliveryError(
            f"the SMTP server does not support what the settings ask: {exc} (check email.security, email.username)",
            temporary=False,
        ) from None
    except ssl.SSLError as exc:  # TLS spoken to a plain port or the reverse, or a certificate refused
        raise DeliveryError(
            f"TLS with the SMTP server failed: {exc.reason or exc} (port 465 speaks "
            'security = "ssl", 587 "starttls", 25 "none")',
            temporary=False,
        ) from None
    except ConnectionRefusedError:
        raise DeliveryError(
            f"cannot reach the SMTP server: nothing listens on {settings.host}:"
            f"{smtp_port(settings)} (check email.host and email.port)",
            temporary=False,
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"cannot reach the SMTP server: {exc.__class__.__name__}: {exc}", temporary=True) from None


def send_with_retries(
    message: EmailMessage, settings: EmailSettings, on_retry: Callable[[str, int, float], None]
) -> str:
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


def send_each(
    messages: list[tuple[str, EmailMessage]],
    settings: EmailSettings,
    on_retry: Callable[[str, int, float], None],
    on_sent: Callable[[str, str], None],
) -> dict[str, DeliveryError]:
    """Send each (recipient, message) over one connection; `on_sent(recipient, Message-ID)` hears each
    delivery as it is made. Returns the recipients not sent to, with why.

    A recipient the server refuses, or a message it refuses for good, fails alone: the next one is sent.
    A temporary failure is retried (a new connection, `retries` times in a row, the delay doubled each
    time). When the connection cannot be made, or a temporary failure outlasts its retries, the
    recipients left are not tried: each is returned with that reason."""
    failed: dict[str, DeliveryError] = {}
    pending = list(messages)
    server: smtplib.SMTP | None = None
    retries = 0
    try:
        while pending:
            recipient, message = pending[0]
            connecting = True  # until the connection is made: a failure there is every recipient's
            try:
                with _classified(settings):
                    if server is None:
                        server = _connect(settings)
                    connecting = False
                    _require_smtputf8(server, message)
                    server.send_message(message)
            except DeliveryError as exc:
                if not isinstance(exc, RecipientRefused):  # the connection may be in any state: a new one
                    _closed(server)
                    server = None
                if exc.temporary and retries < settings.retries:
                    delay = settings.retry_delay * 2**retries
                    retries += 1
                    on_retry(str(exc), retries, delay)
                    time.sleep(delay)
                    continue
                retries = 0
                if (connecting or exc.temporary) and not isinstance(exc, RecipientRefused):
                    failed.update((r, exc) for r, _ in pending)  # nothing says the next would go: none is tried
                    break
                failed[recipient] = exc
                pending.pop(0)
                continue
            retries = 0
            pending.pop(0)
            on_sent(recipient, message["Message-ID"])
    finally:
        _closed(server)
    return failed


def _closed(server: smtplib.SMTP | None) -> None:
    """QUIT, or just close when the server is gone: the messages sent on it are sent either way."""
    if server is not None:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return None


def smtp_port(settings: EmailSettings) -> int:
    return settings.port or {"ssl": 465, "starttls": 587, "none": 25}[settings.security]


def _require_smtputf8(server: smtplib.SMTP, message: EmailMessage) -> None:
    """Non-ASCII addresses need a server that offers SMTPUTF8: without it no retry can help
    (smtplib's own error for this was taken for a lost connection and retried)."""
    headers = [value for name in ("From", "To") for value in message.get_all(name, [])]
    non_ascii = [address for _, address in getaddresses(headers) if not address.isascii()]
    server.ehlo_or_helo_if_needed()
    if non_ascii and not server.has_extn("smtputf8"):
        sender = [address for _, address in getaddresses(message.get_all("From", []))]
        error = DeliveryError if any(not address.isascii() for address in sender) else RecipientRefused
        raise error(without_smtputf8(non_ascii), temporary=False)


def without_smtputf8(addresses: list[str]) -> str:
    return (
        f"{', '.join(addresses)}: the SMTP server does not offer SMTPUTF8, which a non-ASCII address needs "
        "(use an ASCII address or a server that offers SMTPUTF8)"
    )


def _connect(settings: EmailSettings) -> smtplib.SMTP:
    if settings.block:
        from prefect_email import EmailServerCredentials

        return cast(smtplib.SMTP, EmailServerCredentials.load(settings.block).get_server())  # prefect_email is untyped
    if not settings.host:
        raise DeliveryError("no SMTP host: set email.host, DIGEST_SMTP_HOST or email.block", temporary=False)
    context = ssl.create_default_context()
    server: smtplib.SMTP
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


def not_sent(
    messages: list[tuple[str, EmailMessage]],
    settings: EmailSettings,
    on_retry: Callable[[str, int, float], None],
    on_sent: Callable[[str, str], None],
) -> dict[str, str]:
    """`send_each`, the whole sending and its retries in one call (the flow's `send-emails` task: Prefect's
    own retries logged the same failure, with its traceback, once an attempt, and said nothing of the
    wait); the recipients not sent to, with why."""
    return {recipient: str(exc) for recipient, exc in send_each(messages, settings, on_retry, on_sent).items()}
