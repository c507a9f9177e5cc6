"""The `daily-digest` flow: read -> clean -> dedup -> history -> cluster -> summarise -> render -> write -> store -> deliver.

`daily_digest` is the pipeline, each stage's result the next one's input; below it, each stage: a
function that runs the stage's Prefect task (tasks/prefect_tasks.py: one task per stage per batch,
one per source for reading) on the stage's plain function (tasks/), logs the stage's line and
returns what it made, its removals and its counts. The run's report is assembled from those.
Pages are cleaned while the sources are read: the reading hands each page to the `Cleaner` as it
comes (cleaning uses every core, and a run never holds every page), and the clean stage waits for
the last ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from time import perf_counter
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.utilities.annotations import opaque

from flows.paths import DEFAULT_CONFIG
from flows.settings import Settings, load_settings
from tasks import prefect_tasks as task  # the stages' Prefect tasks: task.dedup(...)
from tasks.alerts import RunInfo, failure_hook, send_alert
from tasks.clean import Cleaned, Cleaner, without_future_dates
from tasks.compat import prefect_sync_client
from tasks.dedup import DocumentPrint, published_on, repeats_of_kept, with_prints
from tasks.deliver import DeliveryError, build_message
from tasks.errors import DigestError
from tasks.models import Digest, Dispatch, Failure, Removal, RunReport, Story, StorySummary
from tasks.output import OutputError
from tasks.render import digest_language, labels_for, page_url, plural, subject, to_html, to_plain_text
from tasks.sources import SourceSpec, read_sources as read_each_source
from tasks.store import Store
from tasks.summarise import Algorithm, SummaryOptions
from tasks.workers import LOCAL

# A day of this many stories or more is summarised on the Dask cluster that cleaned its pages (stories are
# independent; 8 a task); fewer cost less here than a round trip and each worker's first import of sumy.
SPREAD_SUMMARIES_FROM = 300


class AllSourcesFailed(DigestError):
    """Nothing could be read: the run fails instead of writing an empty digest."""


class DeliveryFailed(DeliveryError):
    """The digest is written and stored, but the email could not be sent: the run shows Failed."""


def apply_overrides(settings: Settings, sentences: int | None, words: int | None, algorithm: str | None) -> Settings:
    summary = settings.summary.model_dump()
    if sentences is not None:
        summary.update(sentences=sentences, words=None)
    if words is not None:
        summary["words"] = words
    if algorithm is not None:
        summary["algorithm"] = algorithm
    return settings.model_copy(update={"summary": SummaryOptions.model_validate(summary)})


def run_name() -> str:
    """`daily-digest-<the digest's date>`, so the runs and their artifacts list by date."""
    from prefect.runtime import flow_run

    return f"daily-digest-{flow_run.parameters.get('date') or Date.today()}"


def _alert_settings(config_path: str) -> tuple[str, Any, list[str]]:
    settings = load_settings(config_path)
    return settings.digest.title, settings.email, list(settings.email.alerts)


def with_schedule(
    settings: Settings, name: str | None, sentences: int | None, words: int | None, algorithm: str | None
) -> tuple[Settings, Any]:
    """The run's settings: the config as it reads now, then its [[schedules]] entry `name`, then the
    parameters that are set; and that entry (None without a name)."""
    schedule = None
    if name is not None:
        schedule = next((s for s in settings.schedules if s.name == name), None)
        if schedule is None:
            raise ValueError(
                f"no [[schedules]] entry named {name!r} in the config; it has "
                f"{', '.join(s.name for s in settings.schedules)} (restart `digest serve` after renaming one)"
            )
        settings = apply_overrides(settings, schedule.sentences, schedule.words, schedule.algorithm)
    return apply_overrides(settings, sentences, words, algorithm), schedule


# Async, although its stages are sync tasks: Prefect's sync engine ends a run by joining its heartbeat
# thread, which wakes once a second (0-1 s more per run); the async engine does not wait for it.
# A failed run alerts email.alerts and emits an event once, from its failure hook (tasks/alerts.py).
@flow(
    name="daily-digest",
    validate_parameters=True,
    flow_run_name=run_name,
    on_failure=[failure_hook(_alert_settings, str(DEFAULT_CONFIG))],
)
async def daily_digest(
    date: Date | None = None,
    config_path: str = str(DEFAULT_CONFIG),
    schedule: str | None = None,
    only_sources: list[str] | None = None,
    sources: list[SourceSpec] | None = None,
    out_dir: str | None = None,
    sentences: int | None = None,
    words: int | None = None,
    algorithm: Algorithm | None = None,
    email: bool | None = None,
    resend: bool = False,
    replace: bool = False,
    new_store: bool = False,
) -> dict:
    """Build the digest for `date` (default: today) and write it as Markdown, HTML and JSON.

    The config is read when the run starts: an edited file counts from the next run. Parameters left
    empty take the config's value (its [[schedules]] entry's, then its [summary]'s).

    Args:
        date: the digest's date, YYYY-MM-DD; today when empty.
        config_path: the TOML settings file, read when the run starts.
        schedule: the config's [[schedules]] entry whose settings apply (set by `digest serve`); none when empty.
        only_sources: names of the config's sources to read; when empty, the schedule's `sources`, else all.
        sources: sources for this run instead of the config's (each with name, kind, url or path...).
        out_dir: folder for the digest files; when empty, the schedule's `out_dir`, else the config's `digest.out_dir`.
        sentences: sentences per story; when empty, the schedule's, else the config's `summary.sentences`.
        words: word budget per story instead of a sentence count; when empty, the schedule's or the config's.
        algorithm: summariser (news, lead, lexrank, ...); when empty, the schedule's, else the config's `summary.algorithm`.
        email: send the digest to the configured recipients (those not sent it yet for this date); when
            empty, the schedule's `email` (on unless it says false).
        resend: send it again to every recipient, even if it was sent for this date already.
        replace: replace the date's stored digest even by one with fewer stories.
        new_store: take an existing empty SQLite file as a new store.
    """
    # The flow's parameters on two lines, not thirteen:
    # fmt: off
    with (prefect_sync_client(),  # one Prefect client for every sync task run (each would open its own, ~50 ms)
          open_job(date, config_path, schedule, only_sources, sources, out_dir, sentences, words, algorithm, email,
                   resend, replace, new_store) as job,
          job.locked(),  # one run at a time on a store: two would record, store and email the same dispatches
          job.store.run(job.day) as record):  # "failed" if anything raises, even once the files are written
        # fmt: on
        with Cleaner(job.settings.cleaning, job.settings.dedup) as cleaner:  # pages are cleaned as they are read
            read = await read_sources(job, into=cleaner)
            cleaned = clean(job, cleaner)
        unique = dedup(job, cleaned)
        fresh = history(job, unique)
        stories = cluster(job, fresh)
        summaries = summarise(job, stories)
        report = run_report(read, cleaned, unique, fresh, stories)
        digest = make_digest(job, stories, summaries, report)
        paths, problem = [], None
        if not keeps_stored_digest(job, digest):
            rendered = render(job, digest)
            paths = write(job, rendered)
            store_digest(job, digest, rendered, fresh)
            await write_archive(job, paths, rendered)
            problem = await deliver(job, digest, rendered)
        close(job, read)
        record.finish(run_status(paths, problem), report, len(summaries))
    if problem is not None:
        raise DeliveryFailed(f"digest written to {paths[0].parent}, but the email failed: {problem}")
    return finished(job, digest, paths)


def run_daily_digest(**parameters: Any) -> Any:
    """The flow from synchronous code (the CLI, tests, benchmarks), where `daily_digest` returns a coroutine.
    Its result, or its final state with `return_state=True`."""
    return asyncio.run(daily_digest(**parameters))


def select_sources(configured: list[SourceSpec], names: list[str] | None) -> list[SourceSpec]:
    if not names:
        return configured
    unknown = sorted(set(names) - {s.name for s in configured})
    if unknown:
        raise ValueError(
            f"no source named {', '.join(unknown)} in the config; it has {', '.join(s.name for s in configured)}"
        )
    return [s for s in configured if s.name in names]


class Stopwatch(dict[str, float]):
    """Each stage's wall time in seconds, summed over its parts: `with clock("write"): ...`."""

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = perf_counter()
        try:
            yield
        finally:
            self[stage] = self.get(stage, 0.0) + perf_counter() - started


@dataclass(frozen=True)
class Job:
    """What a run does, as the config, its [[schedules]] entry and the parameters say; its store (closed
    when the run ends) and the clock of its stages."""

    settings: Settings
    day: Date
    sources: list[SourceSpec]
    out_dir: Path
    email: bool
    resend: bool
    replace: bool
    store: Store
    clock: Stopwatch

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.store.close()

    def locked(self) -> AbstractContextManager[None]:
        """The store's lock, held for the run (waiting at most `digest.lock_wait` seconds for another)."""
        return self.store.locked(f"run for {self.day}", self.settings.digest.lock_wait, on_wait=_say_waiting)


def open_job(
    date: Date | None,
    config_path: str,
    schedule: str | None,
    only_sources: list[str] | None,
    sources: list[SourceSpec] | None,
    out_dir: str | None,
    sentences: int | None,
    words: int | None,
    algorithm: str | None,
    email: bool | None,
    resend: bool,
    replace: bool,
    new_store: bool,
) -> Job:
    """The flow's parameters made a `Job`: the config as it reads now, its [[schedules]] entry `schedule`'s
    settings, then the parameters that are set; the store opened."""
    clock = Stopwatch()
    with clock("open"):
        settings, entry = with_schedule(load_settings(config_path), schedule, sentences, words, algorithm)
        if entry is not None:
            only_sources = only_sources or entry.sources
            out_dir = out_dir or entry.out_dir
            email = entry.email if email is None else email
        chosen = sources or select_sources(settings.sources, only_sources)
        store = Store.open(settings.digest.database_url, new_store=new_store, lock_wait=settings.digest.lock_wait)
    return Job(
        settings,
        date or Date.today(),
        chosen,
        Path(out_dir) if out_dir else settings.digest.out_dir,
        True if email is None else email,
        resend,
        replace,
        store,
        clock,
    )


def _say_retrying(reason: str, retry: int, delay: float) -> None:
    get_run_logger().warning("email: %s; retry %d in %g s", reason, retry, delay)


def _say_waiting(holder: str) -> None:
    get_run_logger().warning("waiting for the store: %s holds it", holder)


def _count(removals: list[Removal], *levels: str) -> int:
    return sum(1 for r in removals if r.level in levels)


# Batches go to their tasks `opaque`: Prefect would otherwise walk every dispatch, block and sentence of a
# batch looking for futures (~1 s a task at 1,000 dispatches).


@dataclass(frozen=True)
class Read:
    """What the sources gave: how many dispatches (each handed to the cleaner), the sources and items that
    failed, and the feeds' validators (ETag, Last-Modified) to save once the digest is written."""

    count: int
    failures: list[Failure]
    validators: dict[str, dict[str, str]]


async def read_sources(job: Job, into: Cleaner) -> Read:
    """Read every source, each page handed to `into` as it is read. Nothing read at all fails the run."""
    logger = get_run_logger()
    logger.info("reading %s", plural(len(job.sources), "source"), extra={"stage": "sources", "total": len(job.sources)})
    with job.clock("read"):
        results = await read_each_source(
            job.sources, job.settings.fetch, job.store.validators(), job.day, into.add, read=task.read_source
        )
    for spec, result in zip(job.sources, results):
        logger.info(
            "source %s: %s, %s",
            spec.name,
            plural(result.read, "dispatch", "dispatches"),
            plural(len(result.failures), "failure"),
            extra={"stage": "source"},
        )
        for note in result.notes:
            logger.info("source %s: %s", spec.name, note, extra={"stage": "source"})
    count = sum(result.read for result in results)
    answered = sum(bool(result.read or not result.failures) for result in results)
    logger.info(
        "read %s from %d/%s",
        plural(count, "dispatch", "dispatches"),
        answered,
        plural(len(job.sources), "source"),
        extra={"stage": "read"},
    )
    failures = [failure for result in results for failure in result.failures]
    if not count and all(result.failures for result in results):
        raise AllSourcesFailed("; ".join(f"{f.source}: {f.reason}" for f in failures))
    return Read(count, failures, {k: v for r in results for k, v in r.validators.items()})


def clean(job: Job, cleaner: Cleaner) -> Cleaned:
    """The pages `cleaner` was handed, cleaned (the workers' last pages waited for), in the sources' order."""
    with job.clock("clean"):
        cleaned = task.clean(opaque(cleaner))
    get_run_logger().info(
        "cleaned %s; captions, credits and boilerplate lines removed: %d",
        plural(len(cleaned.dispatches), "dispatch", "dispatches"),
        _count(cleaned.removals, "clean"),
        extra={"stage": "clean"},
    )
    return cleaned


@dataclass(frozen=True)
class Kept:
    """The dispatches a stage kept, the removals standing after it, and the dispatches' document prints."""

    dispatches: list[Dispatch]
    removals: list[Removal]
    prints: dict[str, DocumentPrint]


def dedup(job: Job, cleaned: Cleaned) -> Kept:
    """One dispatch per group of copies across the run; what an earlier run of this day recorded comes back
    first, so a re-run loses nothing its sources no longer list. Its removals: the cleaning's, less the
    repeats found within copies dropped (they went with their copy), then the copies dropped."""
    with job.clock("recover"):
        fetched = {d.id for d in cleaned.dispatches}
        dispatches = without_future_dates(
            cleaned.dispatches + [d for d in job.store.first_seen_on(job.day) if d.id not in fetched], job.day
        )
    if job.settings.digest.select == "published":
        dispatches, _ = published_on(dispatches, job.day)
    with job.clock("dedup"):
        dispatches, removed = task.dedup(opaque(dispatches), job.settings.dedup, opaque(cleaned.prints))
    return Kept(dispatches, repeats_of_kept(cleaned.removals, dispatches) + removed, cleaned.prints)


def history(job: Job, unique: Kept) -> Kept:
    """`unique` less what other days' digests said; the removals: those dispatches."""
    with job.clock("history"):
        seen = job.store.digested_around(job.day, job.settings.digest.history_days)
        dispatches, removed = task.history(
            opaque(unique.dispatches), opaque(seen), job.settings.dedup, opaque(unique.prints)
        )
    both = unique.removals + removed
    get_run_logger().info(
        "removed repeated sentences: %d, duplicate dispatches: %d, already digested: %d; kept %s",
        _count(both, "sentence", "paragraph"),
        _count(both, "dispatch"),
        _count(both, "history"),
        plural(len(dispatches), "dispatch", "dispatches"),
        extra={"stage": "dedup"},
    )
    return Kept(dispatches, removed, unique.prints)


@dataclass(frozen=True)
class Stories:
    """The day's stories, and the removals of paragraphs two outlets of a story carried (said once)."""

    stories: list[Story]
    removals: list[Removal]


def cluster(job: Job, fresh: Kept) -> Stories:
    with job.clock("cluster"):
        stories = task.cluster(opaque(fresh.dispatches), job.settings.cluster)
    with job.clock("shared"):
        shared = task.shared_paragraphs(opaque(stories), job.settings.dedup)
    get_run_logger().info(
        "stories: %d; paragraphs two outlets of a story carried, said once: %d",
        len(stories),
        _count(shared, "story"),
        extra={"stage": "cluster"},
    )
    return Stories(stories, shared)


def summarise(job: Job, stories: Stories) -> list[StorySummary]:
    settings = job.settings
    with job.clock("summarise"):
        if settings.cleaning.executor != LOCAL and len(stories.stories) >= SPREAD_SUMMARIES_FROM:
            summaries = task.summarise_on_cluster(
                opaque(stories.stories), settings.summary, settings.dedup, settings.cleaning.executor
            )
        else:
            summaries = task.summarise(opaque(stories.stories), settings.summary, settings.dedup)
    get_run_logger().info(
        "summary sentences: %d", sum(len(s.sentences) for s in summaries), extra={"stage": "summarise"}
    )
    return summaries


def run_report(read: Read, cleaned: Cleaned, unique: Kept, fresh: Kept, stories: Stories) -> RunReport:
    """What the stages read, kept, failed on and removed, for the digest's report and the store."""
    return RunReport(
        read.count,
        len(fresh.dispatches),
        [*read.failures, *cleaned.failures],
        [*unique.removals, *fresh.removals, *stories.removals],
    )


def run_status(paths: list[Path], problem: str | None) -> str:
    return "kept stored" if not paths else "completed" if problem is None else "email failed"


def make_digest(job: Job, stories: Stories, summaries: list[StorySummary], report: RunReport) -> Digest:
    language = job.settings.digest.language
    if language == "auto":
        language = digest_language([s.dispatches[0].language for s in stories.stories], "en")
    return Digest(
        day=job.day,
        title=job.settings.digest.title,
        language=language,
        stories=summaries,
        report=report,
        max_stories=job.settings.digest.max_stories,
    )


def keeps_stored_digest(job: Job, digest: Digest) -> bool:
    """True (and said) when the date's stored digest has more stories than this one and is not to be replaced."""
    stored = job.store.stored_stories(job.day)
    if stored is None or stored <= len(digest.stories) or job.replace:
        return False
    get_run_logger().warning(
        "the digest stored for %s has %s and this run made %d: the stored digest and its "
        "files are kept, nothing is emailed (run with --replace to replace them)",
        job.day,
        plural(stored, "story", "stories"),
        len(digest.stories),
        extra={"stage": "write"},
    )
    return True


def render(job: Job, digest: Digest) -> dict[str, str]:
    with job.clock("render"):
        return task.render(opaque(digest), labels_for(digest.language, job.settings.digest.labels))


def write(job: Job, rendered: dict[str, str]) -> list[Path]:
    with job.clock("write"):
        paths = task.write_digest(opaque(rendered), job.out_dir, job.day)
    get_run_logger().info("wrote %s in %s", ", ".join(p.name for p in paths), paths[0].parent, extra={"stage": "write"})
    return paths


def store_digest(job: Job, digest: Digest, rendered: dict[str, str], fresh: Kept) -> None:
    """The digest and the dispatches it carried, with their prints: what the next days' history holds."""
    with job.clock("store"):
        prints = with_prints(fresh.dispatches, fresh.prints)
        job.store.save_digest(
            job.day, len(digest.stories), rendered["json"], [(d, prints[d.id].packed()) for d in fresh.dispatches]
        )


async def write_archive(job: Job, paths: list[Path], rendered: dict[str, str]) -> None:
    """The archive, from the digests on disk (a re-run or backfill keeps it right); the run's artifact."""
    logger, digest = get_run_logger(), job.settings.digest
    with job.clock("write"):
        try:
            archive = task.write_archive(
                paths[0].parent, digest.title, digest.language, digest.public_url, digest.labels
            )
            logger.info("archive: %s", ", ".join(p.name for p in archive), extra={"stage": "write"})
        except OutputError as exc:  # the digest is written and stored: its email still goes
            logger.warning("%s (the next digest written rewrites the archive)", exc, extra={"stage": "write"})
    await acreate_markdown_artifact(key="daily-digest", markdown=rendered["md"], description=f"Digest for {job.day}")


async def deliver(job: Job, digest: Digest, rendered: dict[str, str]) -> str | None:
    """Email the digest (when the run emails) to recipients who do not have it yet, a message each, each
    delivery recorded as it is made (a run that fails on one recipient sends the others, and its re-run
    sends only to those left); the reason when sending to any failed. The email links the page online, or
    is the page written."""
    logger, email = get_run_logger(), job.settings.email
    if not job.email:
        return None
    if not email.enabled:
        logger.info("email is off: email.recipients is empty", extra={"stage": "email"})
        return None
    if not digest.stories and not email.send_empty:
        logger.info(
            "no stories for %s: nothing emailed (email.send_empty = true sends it anyway)",
            digest.day,
            extra={"stage": "email"},
        )
        return None
    done = set() if job.resend else {r.casefold() for r in job.store.delivered(digest.day, "email")}
    recipients = [r for r in email.recipients if r.casefold() not in done]
    if not recipients:
        logger.info("digest for %s already sent to every recipient; --resend sends it again", digest.day)
        return None
    labels = labels_for(digest.language, job.settings.digest.labels)
    online = page_url(job.settings.digest.public_url, digest.day.isoformat())
    plain = to_plain_text(digest, labels, online=online)
    html = to_html(digest, labels, online=online) if online else rendered["html"]
    try:
        messages = [
            (r, build_message(subject(digest, labels), plain, html, email, [r], unsubscribe=email.unsubscribe_for(r)))
            for r in recipients
        ]
    except DeliveryError as exc:
        return str(exc)

    def record(recipient: str, message_id: str) -> None:  # one row a recipient: `delivered` lists them all
        job.store.record_delivery(digest.day, "email", [recipient], message_id)

    state = task.send_emails(messages, email, _say_retrying, record, return_state=True)
    if not state.is_completed():
        return str(await state.aresult(raise_on_failure=False))
    failed: dict[str, str] = await state.aresult()
    sent = len(recipients) - len(failed)
    logger.info(
        "emailed the digest for %s to %d recipient%s",
        digest.day,
        sent,
        "" if sent == 1 else "s",
        extra={"stage": "email"},
    )
    if not failed:
        return None
    by_reason: dict[str, list[str]] = {}
    for recipient, reason in failed.items():
        by_reason.setdefault(reason, []).append(recipient)
    if not sent and len(by_reason) == 1:  # nobody has it, for one reason: the reason alone
        return next(iter(by_reason))
    return "; ".join(f"not sent to {', '.join(names)}: {reason}" for reason, names in by_reason.items()) + (
        f" (sent to the other {sent}; a re-run sends to those left)" if sent else ""
    )


def close(job: Job, read: Read) -> None:
    with job.clock("close"):
        # Only now: a feed answered 304 next time must have been digested this time.
        job.store.save_validators(read.validators)
        job.store.prune(job.settings.digest.retention_days, job.day)


def finished(job: Job, digest: Digest, paths: list[Path]) -> dict:
    """The run's warnings and alert for failed sources, its last line, and its result."""
    logger, report = get_run_logger(), digest.report
    for failure in report.failures:
        logger.warning("source %s failed (%s): %s", failure.source, failure.location, failure.reason)
    if report.failures:  # a failed run alerts from its hook instead, so once either way
        send_alert(
            job.settings.digest.title,
            job.day.isoformat(),
            RunInfo.current(),
            None,
            report.failures,
            job.settings.email,
            job.settings.email.alerts,
            logger,
        )
    if paths:
        logger.info(
            "%s from %s; written to %s",
            plural(len(digest.stories), "story", "stories"),
            plural(report.dispatches_kept, "dispatch", "dispatches"),
            ", ".join(map(str, paths)),
        )
    return {
        "date": job.day.isoformat(),
        "stories": len(digest.stories),
        "paths": [str(p) for p in paths],
        "failures": len(report.failures),
        "read": report.dispatches_read,
        "kept": report.dispatches_kept,
        "written": bool(paths),
        "seconds": {stage: round(seconds, 3) for stage, seconds in job.clock.items()},
    }
