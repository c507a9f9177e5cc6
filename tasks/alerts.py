"""Alerts for the desk: a run that failed, or one where a source failed, emails `email.alerts` and emits
a Prefect event that an automation can act on.

An alert never raises: whatever goes wrong with it is logged as a warning, and the run keeps its own
state and error. The message goes through tasks/deliver.py's sending code (same SMTP settings, same
retries); it is sent once per run, by the flow's failure hook or, for a completed run with failed
sources, at the end of the run.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from tasks.deliver import EmailSettings, build_message, send_with_retries
from tasks.errors import DeliveryError
from tasks.models import Failure

if TYPE_CHECKING:  # Prefect is imported where it is used
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun, State
    from prefect.flows import FlowStateHook

# Event names, for automations ("Custom" trigger on an event, see docs/operations.md, "Alerts").
RUN_FAILED = "dispatch-digest.run.failed"
SOURCES_FAILED = "dispatch-digest.sources.failed"


@dataclass(frozen=True)
class RunInfo:
    """The run an alert is about: its id, its name (daily-digest-<date>), and its page in the UI if known."""

    id: str | None
    name: str | None
    url: str | None = None

    @classmethod
    def of(cls, flow_run: FlowRun) -> RunInfo:
        """From a Prefect FlowRun (a hook's argument)."""
        from prefect.utilities.urls import url_for

        try:
            url = url_for(flow_run)
        except Exception:  # no UI URL configured: the alert names the run's id instead
            url = None
        return cls(str(flow_run.id), flow_run.name, url)

    @classmethod
    def current(cls) -> RunInfo:
        """The flow run being run now (inside the flow)."""
        from prefect.runtime import flow_run

        return cls(flow_run.id, flow_run.name, flow_run.ui_url)


def compose(
    title: str,
    day: str,
    run: RunInfo,
    problem: str | None,
    failures: Sequence[Failure],
    email: EmailSettings,
    recipients: list[str],
) -> EmailMessage:
    """The alert: subject `[alert] <title> — <date>: …`, a plain-text body (and the same as HTML)."""
    if problem is not None:
        headline = "the run failed"
    else:
        headline = f"{len(failures)} source failure{'s' if len(failures) != 1 else ''}"
    lines = [f"{title}, digest for {day}: {headline}.", ""]
    if problem is not None:
        lines += ["Error:", problem, ""]
    if failures:
        lines.append("Failed sources:" if problem is None else "Failed sources before the error:")
        lines += [f"- {f.source} ({f.location}): {f.reason}" for f in failures]
        lines.append("")
    lines.append(f"Run: {run.name or '?'} ({run.url or f'flow run {run.id}'})")
    plain = "\n".join(lines) + "\n"
    # A title or date with a line break would break the header: build_message refuses it, and so does
    # the settings' validation of the title; the problem goes in the body only.
    subject = f"[alert] {title} — {day}: {headline}"
    return build_message(subject, plain, f"<pre>{html.escape(plain)}</pre>", email, recipients)


def send_alert(
    title: str,
    day: str,
    run: RunInfo,
    problem: str | None,
    failures: Sequence[Failure],
    email: EmailSettings | None,
    recipients: Sequence[str],
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
) -> str | None:
    """Emit the event, then email the recipients (if any); the Message-ID, or None. Never raises."""
    _emit(day, run, problem, failures, logger)
    if not recipients or email is None:
        return None

    def on_retry(reason: str, retry: int, delay: float) -> None:
        logger.warning("alert email: %s; retry %d in %g s", reason, retry, delay)

    try:
        message = compose(title, day, run, problem, failures, email, list(recipients))
        sent = send_with_retries(message, email, on_retry)
    except DeliveryError as exc:
        logger.warning("the alert email to %s could not be sent: %s", ", ".join(recipients), exc)
        return None
    except Exception as exc:  # an alert must never replace the run's own error
        logger.warning(
            "the alert email to %s could not be sent: %s: %s", ", ".join(recipients), exc.__class__.__name__, exc
        )
        return None
    logger.info("alert emailed to %s", ", ".join(recipients))
    return sent


def _emit(
    day: str,
    run: RunInfo,
    problem: str | None,
    failures: Sequence[Failure],
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
) -> None:
    """A Prefect event on the flow run: `dispatch-digest.run.failed` or `dispatch-digest.sources.failed`."""
    try:
        from prefect.events import emit_event

        resource = {
            "prefect.resource.id": f"prefect.flow-run.{run.id}",
            "prefect.resource.name": run.name or "",
            "dispatch-digest.date": day,
        }
        emit_event(
            RUN_FAILED if problem is not None else SOURCES_FAILED,
            resource=resource,
            payload={
                "date": day,
                "error": problem,
                "failures": [{"source": f.source, "location": f.location, "reason": f.reason} for f in failures],
            },
        )
    except Exception as exc:
        logger.warning("the alert event could not be emitted: %s: %s", exc.__class__.__name__, exc)


def failure_hook(
    load: Callable[[str], tuple[str, EmailSettings, list[str]]], default_config: str
) -> FlowStateHook[..., Any]:
    """A flow `on_failure` hook: one alert for the failed run. `load(config_path)` gives the title, the
    email settings and the alert recipients; when the config cannot be read, only the event is emitted."""

    def alert_on_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
        from datetime import date as Date

        from prefect.logging.loggers import flow_run_logger

        logger = flow_run_logger(flow_run, flow)
        parameters = flow_run.parameters or {}
        day = str(parameters.get("date") or Date.today())
        email: EmailSettings | None
        recipients: list[str]
        title, email, recipients = "Dispatch Digest", None, []
        try:
            title, email, recipients = load(str(parameters.get("config_path") or default_config))
        except Exception as exc:
            logger.warning("no alert email: the config could not be read (%s)", str(exc).splitlines()[0])
        send_alert(title, day, RunInfo.of(flow_run), state.message or state.name, [], email, recipients, logger)

    return alert_on_failure
