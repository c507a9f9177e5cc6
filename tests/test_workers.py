import os

from tasks.workers import WorkerPool
from tests.helpers import KillsItsReader


def _pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


def test_map_runs_here_until_the_workers_are_started_then_in_them_in_order():
    with WorkerPool(2) as pool:
        assert {pid for pid, _ in pool.map(_pid_and_square, range(5))} == {os.getpid()}  # a small run starts nothing
        assert not pool.started
        pool.submit(abs, -1).result()  # cleaning pages started the workers
        results = pool.map(_pid_and_square, range(40))
    assert [square for _, square in results] == [n * n for n in range(40)]
    assert os.getpid() not in {pid for pid, _ in results}


def test_a_worker_that_dies_breaks_nothing_but_its_own_work():
    with WorkerPool(2) as pool:
        doomed = pool.submit(len, KillsItsReader("x"))
        assert doomed.exception() is not None  # that item fails (the caller reports it)...
        assert pool.submit(abs, -2).result() == 2  # ...and the next work gets a new pool
        assert [square for _, square in pool.map(_pid_and_square, range(9))] == [n * n for n in range(9)]


def test_one_worker_means_none():
    with WorkerPool(1) as pool:
        assert {pid for pid, _ in pool.map(_pid_and_square, range(5))} == {os.getpid()}
