"""Worker processes for the stages that use every core: cleaning pages, summarising stories.

The pool starts when first asked for work, so a small run never pays for starting processes
(~1 s each). Processes are spawned, not forked: the flow's process has threads (Prefect's), and
fork copies their locks. A worker that dies (a page that crashes its parser) breaks the pool:
the work then in flight fails (`submit`) or is done in the calling process (`map`), and the next
work gets a new pool.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable, Iterable, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class WorkerPool:
    """`workers` processes (0: one per CPU; 1: none, everything runs in the calling process)."""

    def __init__(self, workers: int = 0):
        self.size = workers or os.cpu_count() or 1
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:  # nothing is pending: the workers exit on their own, nobody waits for them
            pool.shutdown(wait=False, cancel_futures=True)

    @property
    def started(self) -> bool:
        return self._pool is not None

    def submit(self, fn: Callable[..., Result], *args) -> Future:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.size, mp_context=get_context("spawn"), initializer=_quiet)
            pool = self._pool
        try:
            return pool.submit(fn, *args)
        except BrokenProcessPool:  # an earlier task killed a worker: this one gets a new pool
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            return self.submit(fn, *args)

    def map(self, fn: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
        """`fn` over `items`, results in order: in the workers when they are running (a run big enough
        to have started them), else here."""
        items = list(items)
        if not self.started or self.size < 2 or len(items) < 2:
            return [fn(item) for item in items]
        chunk = max(1, len(items) // (4 * self.size))  # a few chunks a worker: they even out uneven items
        chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        futures = [self.submit(_run_all, fn, part) for part in chunks]
        return [result for part, future in zip(chunks, futures) for result in self._result(future, fn, part)]

    @staticmethod
    def _result(future: Future, fn: Callable[[Item], Result], part: list[Item]) -> list[Result]:
        try:
            return future.result()
        except BrokenProcessPool:  # a worker died (killed from outside): its part is done here instead
            return _run_all(fn, part)


def _run_all(fn: Callable[[Item], Result], items: list[Item]) -> list[Result]:
    return [fn(item) for item in items]


def _quiet() -> None:
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    logging.getLogger("htmldate").setLevel(logging.ERROR)
