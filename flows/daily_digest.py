"""The `daily-digest` flow: sources -> clean -> dedup -> cluster -> summarise -> render -> write.

One Prefect task per stage per batch (per source for loading, so a source fails
and retries alone); the stages themselves are plain functions in `tasks/`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import opaque
from prefect.artifacts import acreate_markdown_artifact
from prefect.context import SyncClientContext

from flows.paths import DEFAULT_CONFIG
from flows.settings import Settings, load_settings
from tasks.alerts import RunInfo, failure_hook, send_alert
from tasks.clean import Cleaned, Cleaner, without_future_dates
from tasks.cluster import cluster_batch
from tasks.dedup import dedup_across, dedup_history, published_on, repeats_of_kept, shared_in_stories, with_prints
from tasks.models import Digest, Dispatch, RunReport
from tasks.deliver import DeliveryError, build_message, send_each_task
from tasks.errors import DigestError
from tasks.render import digest_language, labels_for, page_url, render_task, subject, to_html, to_plain_text
from tasks.sources import SourceSpec, read_sources
from tasks.output import OutputError, write_archive_task, write_digest_task
from tasks.store import Store
from tasks.summarise import Algorithm, SummaryOptions, summarise_batch
from tasks.workers import LOCAL, open_executor, spread, summarise_stories
from tasks.render import plural


# The tasks of the stages whose modules extraction workers import: Prefect would cost each worker
# ~2 s and ~50 MB. Pages are cleaned (and rid of their own repeats) while the sources are read:
# the clean task waits for the last ones.
clean_batch = task(name="clean", cache_policy=NO_CACHE)(Cleaner.results)
dedup_batch = task(name="dedup", cache_policy=NO_CACHE)(dedup_across)
history_batch = task(name="history", cache_policy=NO_CACHE)(dedup_history)
shared_batch = task(name="shared-paragraphs", cache_policy=NO_CACHE)(shared_in_stories)
# A day of this many stories or more is summarised on the Dask cluster that cleaned its pages (stories are
# independent; 8 a task); fewer cost less here than a round trip and each worker's first import of sumy.
SPREAD_SUMMARIES_FROM = 300


@task(name="summarise", cache_policy=NO_CACHE)
def summarise_on_cluster(stories: list, options: SummaryOptions, repeats: Any, executor: str) -> list:
    with open_executor(executor) as cluster:
        return spread(cluster, summarise_stories, stories, options, repeats)


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


def with_schedule(settings: Settings, name: str | None, sentences: int | None, words: int | None,
                  algorithm: str | None) -> tuple[Settings, Any]:
    """The run's settings: the config as it reads now, then its [[schedules]] entry `name`, then the
    parameters that are set; and that entry (None without a name)."""
    schedule = None
    if name is not None:
        schedule = next((s for s in settings.schedules if s.name == name), None)
        if schedule is None:
            raise ValueError(f"no [[schedules]] entry named {name!r} in the config; it has "
                             f"{', '.join(s.name for s in settings.schedules)} (restart `digest serve` after renaming one)")
        settings = apply_overrides(settings, schedule.sentences, schedule.words, schedule.algorithm)
    return apply_overrides(settings, sentences, words, algorithm), schedule


# Async, although its stages are sync tasks: Prefect's sync engine ends a run by joining its heartbeat
# thread, which wakes once a second (0-1 s more per run); the async engine does not wait for it.
# A failed run alerts email.alerts and emits an event once, from its failure hook (tasks/alerts.py).
@flow(name="daily-digest", validate_parameters=True, flow_run_name=run_name,
      on_failure=[failure_hook(_alert_settings, str(DEFAULT_CONFIG))])
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
    # One Prefect client for every sync task run: without it, each would open its own (~50 ms).
    with SyncClientContext.get_or_create():
        report = RunReport()
        with report.timed("open"):
            settings, entry = with_schedule(load_settings(config_path), schedule, sentences, words, algorithm)
            if entry is not None:
                only_sources = only_sources or entry.sources
                out_dir = out_dir or entry.out_dir
                email = entry.email if email is None else email
            email = True if email is None else email
            day = date or Date.today()
            chosen = sources or select_sources(settings.sources, only_sources)
            store = Store.open(settings.digest.store, new_store=new_store, lock_wait=settings.digest.lock_wait)
        try:
            # One run at a time on a store: two would both record, store and email the same dispatches.
            with store.locked(f"run for {day}", settings.digest.lock_wait, on_wait=_say_waiting):
                return await _locked_run(settings, store, day, chosen, Path(out_dir) if out_dir else None,
                                         report, email, resend, replace)
        finally:
            store.close()


def _say_retrying(reason: str, retry: int, delay: float) -> None:
    get_run_logger().warning("email: %s; retry %d in %g s", reason, retry, delay)


def _say_waiting(holder: str) -> None:
    get_run_logger().warning("waiting for the store: %s holds it", holder)


async def _locked_run(settings: Settings, store: Store, day: Date, sources: list[SourceSpec], out_dir: Path | None,
                      report: RunReport, email: bool, resend: bool, replace: bool) -> dict:
    logger = get_run_logger()
    run_id = store.start_run(day)
    try:  # whatever fails, even after the files are written, the run is not left "running"
        built = await _build(settings, store, day, sources, out_dir, report, replace)
        delivery = None
        if built.written and email:
            delivery = await _deliver(built.digest, built.rendered["html"], settings, store, resend)
        with report.timed("close"):
            # Only now: a feed answered 304 next time must have been digested this time.
            store.save_validators(built.validators)
            store.prune(settings.digest.retention_days, day)
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    status = "completed" if built.written else "kept stored"
    store.finish_run(run_id, status if delivery is None else "email failed", report.dispatches_read,
                     report.dispatches_kept, len(built.digest.stories), report.failures)
    if delivery is not None:
        raise DeliveryFailed(f"digest written to {built.paths[0].parent}, but the email failed: {delivery}")
    for failure in report.failures:
        logger.warning("source %s failed (%s): %s", failure.source, failure.location, failure.reason)
    if report.failures:  # a failed run alerts from its hook instead, so once either way
        send_alert(settings.digest.title, day.isoformat(), RunInfo.current(), None, report.failures, settings.email,
                   settings.email.alerts, logger)
    if built.written:
        logger.info("%s from %s; written to %s", plural(len(built.digest.stories), "story", "stories"),
                    plural(report.dispatches_kept, "dispatch", "dispatches"), ", ".join(map(str, built.paths)))
    return {"date": day.isoformat(), "stories": len(built.digest.stories), "paths": [str(p) for p in built.paths],
            "failures": len(report.failures), "read": report.dispatches_read, "kept": report.dispatches_kept,
            "written": built.written,
            "seconds": {stage: round(seconds, 3) for stage, seconds in report.seconds.items()}}


def run_daily_digest(**parameters: Any) -> Any:
    """The flow from synchronous code (the CLI, tests, benchmarks), where `daily_digest` returns a coroutine.
    Its result, or its final state with `return_state=True`."""
    return asyncio.run(daily_digest(**parameters))


def select_sources(configured: list[SourceSpec], names: list[str] | None) -> list[SourceSpec]:
    if not names:
        return configured
    unknown = sorted(set(names) - {s.name for s in configured})
    if unknown:
        raise ValueError(f"no source named {', '.join(unknown)} in the config; it has {', '.join(s.name for s in configured)}")
    return [s for s in configured if s.name in names]


async def _deliver(digest: Digest, html: str, settings: Settings, store: Store, resend: bool) -> str | None:
    """Email the digest to recipients who do not have it yet, a message each, each delivery recorded as it
    is made (a run that fails on one recipient sends the others, and its re-run sends only to those left);
    the reason when sending to any failed. `html` is the page written; the email's links it online."""
    logger, email = get_run_logger(), settings.email
    if not email.enabled:
        logger.info("email is off: email.recipients is empty", extra={"stage": "email"})
        return None
    if not digest.stories and not email.send_empty:
        logger.info("no stories for %s: nothing emailed (email.send_empty = true sends it anyway)", digest.day,
                    extra={"stage": "email"})
        return None
    done = set() if resend else {r.casefold() for r in store.delivered(digest.day, "email")}
    recipients = [r for r in email.recipients if r.casefold() not in done]
    if not recipients:
        logger.info("digest for %s already sent to every recipient; --resend sends it again", digest.day)
        return None
    labels = labels_for(digest.language, settings.digest.labels)
    online = page_url(settings.digest.public_url, digest.day.isoformat())
    plain = to_plain_text(digest, labels, online=online)
    html = to_html(digest, labels, online=online) if online else html
    try:
        messages = [(r, build_message(subject(digest, labels), plain, html, email, [r],
                                      unsubscribe=email.unsubscribe_for(r))) for r in recipients]
    except DeliveryError as exc:
        return str(exc)

    def record(recipient: str, message_id: str) -> None:  # one row a recipient: `delivered` lists them all
        store.record_delivery(digest.day, "email", [recipient], message_id)

    state = send_each_task(messages, email, _say_retrying, record, return_state=True)
    if not state.is_completed():
        return str(await state.aresult(raise_on_failure=False))
    failed: dict[str, str] = await state.aresult()
    sent = len(recipients) - len(failed)
    logger.info("emailed the digest for %s to %d recipient%s", digest.day, sent, "" if sent == 1 else "s",
                extra={"stage": "email"})
    if not failed:
        return None
    by_reason: dict[str, list[str]] = {}
    for recipient, reason in failed.items():
        by_reason.setdefault(reason, []).append(recipient)
    if not sent and len(by_reason) == 1:  # nobody has it, for one reason: the reason alone
        return next(iter(by_reason))
    return "; ".join(f"not sent to {', '.join(names)}: {reason}" for reason, names in by_reason.items()) + (
        f" (sent to the other {sent}; a re-run sends to those left)" if sent else "")


@dataclass(frozen=True)
class Built:
    """What `_build` made: the digest, its renderings and files, the feeds' validators to save, and
    whether it was written (False when the date's stored digest had more stories and was kept)."""

    digest: Digest
    rendered: dict[str, str]
    paths: list[Path]
    validators: dict
    written: bool


async def _build(settings: Settings, store: Store, day: Date, sources: list[SourceSpec], out_dir: Path | None,
                 report: RunReport, replace: bool) -> Built:
    """The stages in order. Batches go to their tasks `opaque`: Prefect would otherwise walk every
    dispatch, block and sentence of a batch looking for futures (~1 s a task at 1,000 dispatches)."""
    logger = get_run_logger()
    cleaned, validators = await _read_and_clean(settings, store, day, sources, report)
    dispatches = _dedup(settings, store, day, cleaned, report)
    with report.timed("cluster"):
        stories = cluster_batch(opaque(dispatches), settings.cluster)
    with report.timed("shared"):
        report.removals.extend(shared_batch(opaque(stories), settings.dedup))
    logger.info("stories: %d; paragraphs two outlets of a story carried, said once: %d", len(stories),
                report.removed_count("story"), extra={"stage": "cluster"})
    with report.timed("summarise"):
        if settings.cleaning.executor != LOCAL and len(stories) >= SPREAD_SUMMARIES_FROM:
            summaries = summarise_on_cluster(opaque(stories), settings.summary, settings.dedup,
                                             settings.cleaning.executor)
        else:
            summaries = summarise_batch(opaque(stories), settings.summary, settings.dedup)
    logger.info("summary sentences: %d", sum(len(s.sentences) for s in summaries), extra={"stage": "summarise"})
    language = settings.digest.language
    if language == "auto":
        language = digest_language([s.dispatches[0].language for s in stories], "en")
    digest = Digest(day=day, title=settings.digest.title, language=language, stories=summaries, report=report,
                    max_stories=settings.digest.max_stories)
    stored = store.stored_stories(day)
    if stored is not None and stored > len(summaries) and not replace:
        logger.warning("the digest stored for %s has %s and this run made %d: the stored digest and its "
                       "files are kept, nothing is emailed (run with --replace to replace them)", day,
                       plural(stored, "story", "stories"),
                       len(summaries), extra={"stage": "write"})
        return Built(digest, {}, [], validators, written=False)

    with report.timed("render"):
        rendered = render_task(opaque(digest), labels_for(language, settings.digest.labels))
    with report.timed("write"):
        paths = write_digest_task(opaque(rendered), out_dir or settings.digest.out_dir, day)
    logger.info("wrote %s in %s", ", ".join(p.name for p in paths), paths[0].parent, extra={"stage": "write"})
    with report.timed("store"):
        prints = with_prints(dispatches, cleaned.prints)
        store.save_digest(day, len(summaries), rendered["json"], [(d, prints[d.id].packed()) for d in dispatches])
    with report.timed("write"):  # the archive, from the digests on disk: a re-run or backfill keeps it right
        try:
            archive = write_archive_task(paths[0].parent, settings.digest.title, settings.digest.language,
                                         settings.digest.public_url, settings.digest.labels)
            logger.info("archive: %s", ", ".join(p.name for p in archive), extra={"stage": "write"})
        except OutputError as exc:  # the digest is written and stored: its email still goes
            logger.warning("%s (the next digest written rewrites the archive)", exc, extra={"stage": "write"})
    await acreate_markdown_artifact(key="daily-digest", markdown=rendered["md"], description=f"Digest for {day}")
    return Built(digest, rendered, paths, validators, written=True)


async def _read_and_clean(settings: Settings, store: Store, day: Date, sources: list[SourceSpec],
                          report: RunReport) -> tuple[Cleaned, dict]:
    """Read the sources, cleaning pages in worker processes as they come (a run never holds every
    page); the feeds' validators (ETag, Last-Modified) to save once the digest is written. The workers
    are gone before the next stages (~170 MB each)."""
    logger = get_run_logger()
    logger.info("reading %s", plural(len(sources), "source"), extra={"stage": "sources", "total": len(sources)})
    with Cleaner(settings.cleaning, settings.dedup) as cleaner:
        with report.timed("read"):
            results = await read_sources(sources, settings.fetch, store.validators(), day, cleaner.add)
        for spec, result in zip(sources, results):
            logger.info("source %s: %s, %s", spec.name, plural(result.read, "dispatch", "dispatches"),
                        plural(len(result.failures), "failure"), extra={"stage": "source"})
            for note in result.notes:
                logger.info("source %s: %s", spec.name, note, extra={"stage": "source"})
        read = sum(result.read for result in results)
        answered = sum(bool(result.read or not result.failures) for result in results)
        logger.info("read %s from %d/%s", plural(read, "dispatch", "dispatches"), answered,
                    plural(len(sources), "source"), extra={"stage": "read"})
        report.failures.extend(failure for result in results for failure in result.failures)
        report.dispatches_read = read
        if not read and all(result.failures for result in results):
            raise AllSourcesFailed("; ".join(f"{f.source}: {f.reason}" for f in report.failures))
        with report.timed("clean"):
            cleaned = clean_batch(opaque(cleaner))
    report.removals.extend(cleaned.removals)
    report.failures.extend(cleaned.failures)
    logger.info("cleaned %s; captions, credits and boilerplate lines removed: %d",
                plural(len(cleaned.dispatches), "dispatch", "dispatches"),
                report.removed_count("clean"), extra={"stage": "clean"})
    return cleaned, {k: v for r in results for k, v in r.validators.items()}


def _dedup(settings: Settings, store: Store, day: Date, cleaned: Cleaned, report: RunReport) -> list[Dispatch]:
    """Copies across the run, then what other days' digests said; what an earlier run of this day
    recorded comes back first, so a re-run loses nothing its sources no longer list."""
    with report.timed("recover"):
        fetched = {d.id for d in cleaned.dispatches}
        dispatches = without_future_dates(
            cleaned.dispatches + [d for d in store.first_seen_on(day) if d.id not in fetched], day)
    if settings.digest.select == "published":
        dispatches, _ = published_on(dispatches, day)
    with report.timed("dedup"):
        dispatches, removed = dedup_batch(opaque(dispatches), settings.dedup, opaque(cleaned.prints))
    report.removals = repeats_of_kept(report.removals, dispatches) + removed
    with report.timed("history"):
        seen = store.digested_around(day, settings.digest.history_days)
        dispatches, removed = history_batch(opaque(dispatches), opaque(seen), settings.dedup, opaque(cleaned.prints))
    report.removals.extend(removed)
    report.dispatches_kept = len(dispatches)
    repeats = [report.removed_count("sentence") + report.removed_count("paragraph"), report.removed_count("dispatch"),
               report.removed_count("history")]
    get_run_logger().info("removed repeated sentences: %d, duplicate dispatches: %d, already digested: %d; "
                          "kept %s", *repeats, plural(len(dispatches), "dispatch", "dispatches"), extra={"stage": "dedup"})
    return dispatches
