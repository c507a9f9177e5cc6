"""The `daily-digest` flow: sources -> clean -> dedup -> cluster -> summarise -> render -> write.

One Prefect task per stage per batch (per source for loading, so a source fails
and retries alone); the stages themselves are plain functions in `tasks/`.
"""

from __future__ import annotations

import asyncio
from datetime import date as Date
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.settings import DEFAULT_CONFIG, Settings, load_settings
from tasks.clean import clean_batch
from tasks.cluster import cluster_batch
from tasks.dedup import dedup_batch
from tasks.models import Digest, RunReport
from tasks.render import digest_language, render_task
from tasks.sources import SourceSpec, read_sources
from tasks.store import read_state, write_digest_task, write_state
from tasks.summarise import SummaryOptions, summarise_batch


class AllSourcesFailed(RuntimeError):
    """Nothing could be read: the run fails instead of writing an empty digest."""


def apply_overrides(settings: Settings, sentences: int | None, words: int | None, algorithm: str | None) -> Settings:
    summary = settings.summary.model_dump()
    if sentences is not None:
        summary.update(sentences=sentences, words=None)
    if words is not None:
        summary["words"] = words
    if algorithm is not None:
        summary["algorithm"] = algorithm
    return settings.model_copy(update={"summary": SummaryOptions.model_validate(summary)})


@flow(name="daily-digest", validate_parameters=True)
def daily_digest(
    date: Date | None = None,
    config_path: str = str(DEFAULT_CONFIG),
    sources: list[SourceSpec] | None = None,
    out_dir: str | None = None,
    sentences: int | None = None,
    words: int | None = None,
    algorithm: str | None = None,
) -> dict:
    """Build the digest for `date` (default: today) and write it as Markdown, HTML and JSON.

    Args:
        date: the digest's date, YYYY-MM-DD; today when empty.
        config_path: the TOML settings file.
        sources: sources for this run instead of the config's.
        out_dir: folder for the digest files; the config's `digest.out_dir` when empty.
        sentences: sentences per story, instead of the config's.
        words: word budget per story, instead of a sentence count.
        algorithm: summariser (news, lead, lexrank, textrank, lsa, luhn, sumbasic, kl, reduction, edmundson).
    """
    logger = get_run_logger()
    settings = apply_overrides(load_settings(config_path), sentences, words, algorithm)
    day = date or Date.today()
    report = RunReport()

    validators_file = settings.digest.data_dir / "http-validators.json"
    validators = read_state(validators_file)
    results = asyncio.run(read_sources(sources or settings.sources, settings.fetch, validators, day))
    raws = [raw for result in results for raw in result.raws]
    report.failures.extend(failure for result in results for failure in result.failures)
    report.dispatches_read = len(raws)
    if not raws and all(result.failures for result in results):
        raise AllSourcesFailed("; ".join(f"{f.source}: {f.reason}" for f in report.failures))

    dispatches, removed, failed = clean_batch(raws, settings.cleaning)
    report.removals.extend(removed)
    report.failures.extend(failed)
    dispatches, removed = dedup_batch(dispatches, settings.dedup)
    report.removals.extend(removed)
    report.dispatches_kept = len(dispatches)

    stories = cluster_batch(dispatches, settings.cluster)
    summaries = summarise_batch(stories, settings.summary, settings.dedup)
    language = settings.digest.language
    if language == "auto":
        language = digest_language([s.dispatches[0].language for s in stories], "en")
    digest = Digest(day=day, title=settings.digest.title, language=language, stories=summaries, report=report)

    rendered = render_task(digest)
    paths = write_digest_task(rendered, Path(out_dir) if out_dir else settings.digest.out_dir, day)
    # Only now: a feed answered 304 next time must have been digested this time.
    write_state(validators_file, {**validators, **{k: v for r in results for k, v in r.validators.items()}})
    create_markdown_artifact(key="daily-digest", markdown=rendered["md"], description=f"Digest for {day}")
    for failure in report.failures:
        logger.warning("source %s failed (%s): %s", failure.source, failure.location, failure.reason)
    logger.info("%d stories from %d dispatches; written to %s", len(summaries), len(dispatches), ", ".join(map(str, paths)))
    return {"date": day.isoformat(), "stories": len(summaries), "paths": [str(p) for p in paths],
            "failures": len(report.failures)}
