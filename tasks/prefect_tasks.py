"""Every Prefect task of the `daily-digest` flow, declared by one rule over the stages' plain functions.

The stage modules (the other modules of `tasks/`) never import Prefect: extraction and summarising
worker processes import them, and Prefect would cost each worker ~2 s and ~50 MB
(tests/test_pipeline.py checks it). Only the flow imports this module; tests, the batch
commands (flows/stages.py) and benchmarks call the plain functions.

A task runs its stage over a whole batch (a task run costs the Prefect server ~30-40 ms: one per
dispatch would cost more than the work), except reading: one task per source, so a broken source
fails, and is retried once, alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

from tasks.clean import Cleaner
from tasks.cluster import cluster as cluster_stories
from tasks.dedup import dedup_across, dedup_history, shared_in_stories
from tasks.deliver import not_sent
from tasks.output import write_archive as archive_files, write_digest as digest_files
from tasks.render import render as render_formats
from tasks.sources import read_source as read_one_source
from tasks.summarise import summarise_batch, summarise_spread

P = ParamSpec("P")
R = TypeVar("R")


def stage_task(fn: Callable[P, R], name: str, *, retries: int = 0, retry_delay_seconds: float = 0) -> Task[P, R]:
    """`fn` as the task `name`, never cached: its inputs are whole batches (hashing them would cost more
    than the work, and a re-run of a day must redo it); retried only when `retries` says so."""
    return task(name=name, cache_policy=NO_CACHE, retries=retries, retry_delay_seconds=retry_delay_seconds)(fn)


read_source = stage_task(read_one_source, "read-source", retries=1, retry_delay_seconds=2)
# Pages are cleaned while the sources are read (tasks.clean.Cleaner); this task waits for the last ones.
clean = stage_task(Cleaner.results, "clean")
dedup = stage_task(dedup_across, "dedup")
history = stage_task(dedup_history, "history")
cluster = stage_task(cluster_stories, "cluster")
shared_paragraphs = stage_task(shared_in_stories, "shared-paragraphs")
summarise = stage_task(summarise_batch, "summarise")
summarise_on_cluster = stage_task(summarise_spread, "summarise")  # a large day, on the Dask cluster
render = stage_task(render_formats, "render")
write_digest = stage_task(digest_files, "write-digest")
write_archive = stage_task(archive_files, "write-archive")
send_emails = stage_task(not_sent, "send-emails")
