"""Worker processes for the work that uses every core: extracting and cleaning pages.

The pool starts when first asked for work, so a small run never pays for starting processes
(~1 s each). Processes are spawned, not forked: the flow's process has threads (Prefect's), and
fork copies their locks. A worker that dies (a page that crashes its parser) breaks the pool:
the work then in flight fails, and the next work gets a new pool.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable


class WorkerPool:
    """`workers` processes (0: one per CPU; 1: none, everything runs in the calling process)."""

    def __init__(self, workers: int = 0):
        self.size = workers or os.cpu_count() or 1
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:  # nothing is pending: the workers exit on their own, nobody waits for them
            pool.shutdown(wait=False, cancel_futures=True)

    @property
    def started(self) -> bool:
        return self._pool is not None

    def submit(self, fn: Callable, *args) -> Future:
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


def _quiet() -> None:
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    logging.getLogger("htmldate").setLevel(logging.ERROR)
