import os

import pytest

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


@pytest.mark.slow  # a Dask cluster or worker processes
def test_local_is_a_worker_pool_and_an_address_a_dask_executor(tmp_path):
    from tasks.workers import DaskExecutor, open_executor
    from tests.dask_cluster import dask_cluster

    local = open_executor("local", 2)
    assert isinstance(local, WorkerPool) and not local.remote and local.size == 2
    with dask_cluster(tmp_path, workers=2) as (address, _), open_executor(address) as executor:
        assert isinstance(executor, DaskExecutor) and executor.remote and executor.size == 2
        assert executor.submit(os.getpid).result() != os.getpid()
        assert isinstance(executor.submit(int, "x").exception(), ValueError)  # the work's own error, as raised


@pytest.mark.slow  # a Dask cluster or worker processes
def test_dask_work_that_kills_its_workers_fails_with_worker_died_and_the_next_work_runs(tmp_path):
    from tasks.workers import WorkerDied, open_executor
    from tests.dask_cluster import dask_cluster

    # allowed-failures 0: the first worker lost marks the task as killing workers (Dask's default is 3).
    with (
        dask_cluster(tmp_path, workers=2, scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}) as (
            address,
            processes,
        ),
        open_executor(address) as executor,
    ):
        # Run by a worker (a poisoned pickle would kill the scheduler first: it reads the task's arguments).
        doomed = executor.submit(os._exit, 3)
        assert isinstance(doomed.exception(timeout=60), WorkerDied)
        assert executor.submit(abs, -2).result(timeout=60) == 2  # the other worker runs the next work
        assert sorted(p.poll() is None for p in processes.values()) == [False, True]


def _squares(numbers: list[int]) -> list[int]:
    return [n * n for n in numbers]


@pytest.mark.slow  # a Dask cluster or worker processes
def test_spread_runs_parts_on_the_executor_and_keeps_the_items_order():
    from tasks.workers import spread

    with WorkerPool(2) as pool:
        assert spread(pool, _squares, list(range(25)), batch=4) == [n * n for n in range(25)]
        assert spread(pool, _squares, [], batch=4) == []
