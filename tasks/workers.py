"""Executors for the work that uses every core: extracting and cleaning pages (and summarising the
stories of a large day on a Dask cluster: `spread`).

Two kinds, chosen by `cleaning.executor` (`open_executor`), both with `submit(fn, *args)` returning
a concurrent.futures.Future, `size` (work that can run at once) and `close()`:

- `WorkerPool` ("local"): worker processes on this machine. The pool starts when first asked for
  work, so a small run never pays for starting processes (~1 s each). Processes are spawned, not
  forked: the flow's process has threads (Prefect's), and fork copies their locks. A worker that
  dies (a page that crashes its parser) breaks the pool: the work then in flight fails, and the
  next work gets a new pool.
- `DaskExecutor` ("tcp://host:8786"): the workers of a dask.distributed cluster. It connects when
  made (a scheduler that cannot be reached is one `ExecutorUnreachable`, before any work), and
  work a lost worker held is run again elsewhere by the scheduler; work that killed its workers
  `allowed-failures` times (Dask's setting, 3) fails with `WorkerDied`.

No Prefect and no Dask at import: worker processes import this module (distributed is imported
by `DaskExecutor` only).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import TYPE_CHECKING, TypeVar, cast
from urllib.parse import urlsplit

from tasks.errors import DigestError

if TYPE_CHECKING:  # not at run time: worker processes import this module
    import distributed

    from tasks.dedup import DedupOptions
    from tasks.models import Story, StorySummary
    from tasks.summarise import SummaryOptions

_T = TypeVar("_T")

LOCAL = "local"
# Seconds to reach a Dask scheduler and to wait for its first worker.
CONNECT_TIMEOUT = 10.0
# Dask runs a task again when its function raises, this many times (a lost worker's task is rerun anyway).
RETRIES = 1


class ExecutorUnreachable(DigestError):
    """The Dask scheduler of `cleaning.executor` cannot be used (or was lost mid-run); the message names
    its address and the reason."""


class WorkerDied(DigestError, BrokenProcessPool):  # cleaning catches a BrokenProcessPool: a local worker's or these
    """The work killed every worker that ran it (a Dask task that lost `allowed-failures` workers)."""


def spread(
    executor: WorkerPool | DaskExecutor,
    fn: Callable[..., list[_T]],
    items: Sequence[object],
    *args: object,
    batch: int = 8,
) -> list[_T]:
    """`fn(part, *args)` on `executor` for each part of `batch` items (each returning a list), at most two
    parts a worker in flight; the results in the items' order."""
    parts = [items[start : start + batch] for start in range(0, len(items), batch)]
    results: list[list[_T] | None] = [None] * len(parts)
    pending: dict[Future[list[_T]], int] = {}
    following = 0
    while following < len(parts) or pending:
        while following < len(parts) and len(pending) < 2 * executor.size:
            pending[executor.submit(fn, parts[following], *args)] = following
            following += 1
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            results[pending.pop(future)] = future.result()
    return [result for part in cast("list[list[_T]]", results) for result in part]  # every part answered


def summarise_stories(stories: list[Story], options: SummaryOptions, repeats: DedupOptions) -> list[StorySummary]:
    """The summaries of `stories` (tasks.summarise, imported by the worker that runs it: sumy costs a
    worker ~1.6 s once)."""
    from tasks.summarise import summarise_story

    return [summarise_story(story, options, repeats) for story in stories]


def open_executor(executor: str = LOCAL, workers: int = 0) -> WorkerPool | DaskExecutor:
    """A `WorkerPool` of `workers` processes for "local", else a `DaskExecutor` connected to that scheduler."""
    return WorkerPool(workers) if executor == LOCAL else DaskExecutor(executor)


class WorkerPool:
    """`workers` processes (0: one per CPU; 1: none, everything runs in the calling process)."""

    remote = False

    def __init__(self, workers: int = 0):
        self.size = workers or os.cpu_count() or 1
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:  # nothing is pending: the workers exit on their own, nobody waits for them
            pool.shutdown(wait=False, cancel_futures=True)

    @property
    def started(self) -> bool:
        return self._pool is not None

    def submit(self, fn: Callable[..., _T], *args: object) -> Future[_T]:
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


class DaskExecutor:
    """The workers of the dask.distributed cluster whose scheduler is at `address`, reached now.

    `size` is the threads of its workers when it connected (the caller bounds its work in flight by
    it). A result is fetched as soon as its task ends, and the task released: the cluster does not
    keep what the flow already has.
    """

    remote = True
    # Client(), nthreads(), and a Future's add_done_callback() and release() are untyped in distributed
    # (their calls below ignore no-untyped-call).
    _client: distributed.Client | None

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT):
        self.address = address
        _probe(address, timeout)  # the plain reason (refused, unknown host) at once, not a timeout later
        from distributed import Client

        try:
            self._client = Client(address, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
        except (OSError, ValueError, TimeoutError) as exc:
            raise ExecutorUnreachable(f"the Dask scheduler at {address} cannot be reached: {exc}") from None
        try:
            self._client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            self.close()
            raise ExecutorUnreachable(
                f"the Dask scheduler at {address} has no workers (waited {timeout:g} s for one)"
            ) from None
        self.size: int = max(sum(self._client.nthreads().values()), 1)  # type: ignore[no-untyped-call]

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def started(self) -> bool:
        return True

    @property
    def client(self) -> distributed.Client | None:
        """The dask.distributed Client (tests and benchmarks look at the cluster through it)."""
        return self._client

    def close(self) -> None:
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            client.close()

    def submit(self, fn: Callable[..., _T], *args: object) -> Future[_T]:
        if self._client is None:
            raise ExecutorUnreachable(f"the connection to the Dask scheduler at {self.address} is closed")
        done: Future[_T] = Future()
        remote = self._client.submit(fn, *args, pure=False, retries=RETRIES)

        def relay(finished: distributed.Future[_T]) -> None:  # in Dask's callback thread
            try:
                done.set_result(finished.result())
            except Exception as exc:
                done.set_exception(self._reason(exc))
            finally:
                finished.release()  # type: ignore[no-untyped-call]

        remote.add_done_callback(relay)  # type: ignore[no-untyped-call]
        return done

    def _reason(self, exc: Exception) -> Exception:
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            return WorkerDied(f"the Dask workers running it died: {exc}")
        if isinstance(exc, (OSError, TimeoutError, CancelledError)):
            return ExecutorUnreachable(
                f"the Dask scheduler at {self.address} was lost mid-run: {exc.__class__.__name__}: {exc}"
            )
        return exc


def _probe(address: str, timeout: float) -> None:
    """A TCP connection to a tcp:// scheduler, so that a refused port or an unknown host says so at once."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp":
        return  # tls://, ws://: Dask's own connection says what is wrong
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ExecutorUnreachable(f"the Dask scheduler at {address} cannot be reached: {exc}") from None
    if not host or not port:
        raise ExecutorUnreachable(
            f"the Dask scheduler at {address} cannot be reached: the address needs a host and a port (tcp://host:8786)"
        )
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.gaierror as exc:
        raise ExecutorUnreachable(
            f"the Dask scheduler at {address} cannot be reached: unknown host {host} ({exc.strerror})"
        ) from None
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise ExecutorUnreachable(f"the Dask scheduler at {address} cannot be reached: {reason}") from None
