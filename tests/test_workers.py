import os

from tasks.workers import WorkerPool
from tests.helpers import KillsItsReader


def test_the_pool_starts_when_first_asked_and_runs_work_in_other_processes():
    with WorkerPool(2) as pool:
        assert not pool.started
        assert pool.submit(os.getpid).result() != os.getpid()
        assert pool.started


def test_a_worker_that_dies_fails_only_its_own_work_and_the_next_work_gets_a_new_pool():
    with WorkerPool(2) as pool:
        doomed = pool.submit(len, KillsItsReader("x"))
        assert doomed.exception() is not None  # that item fails (the caller reports it)...
        assert pool.submit(abs, -2).result() == 2  # ...and the next work runs
