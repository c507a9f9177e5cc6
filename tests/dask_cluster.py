"""A real Dask cluster on 127.0.0.1 for tests and benchmarks, started and stopped by whoever uses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from flows.prefect_api import free_port

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).with_name("dask")


@contextmanager
def dask_cluster(tmp_path: Path, workers: int = 2, scheduler_env: dict[str, str] | None = None):
    """`dask scheduler` and `workers` × `dask worker` on 127.0.0.1 (one thread each, no nanny: a killed
    worker stays dead), their logs and files in `tmp_path`; yields (address, {name: worker process}).
    The workers import the project from this folder (PYTHONPATH), whatever their working folder.
    `scheduler_env`: more environment for the scheduler (Dask settings: DASK_DISTRIBUTED__...)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = tmp_path / "dask-logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str, more: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "wb")
        started.append(
            subprocess.Popen([str(DASK), *args], cwd=tmp_path, env=env | (more or {}), stdout=log, stderr=log)
        )
        log.close()
        return started[-1]

    try:
        start(
            "scheduler",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            address.rsplit(":", 1)[1],
            "--no-dashboard",
            more=scheduler_env,
        )
        processes = {
            f"w{n}": start(
                f"w{n}",
                "worker",
                address,
                "--name",
                f"w{n}",
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--memory-limit",
                "0",
                "--local-directory",
                str(tmp_path / f"w{n}"),
            )
            for n in range(1, workers + 1)
        }
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5, set_as_default=False) as client:
                    client.wait_for_workers(workers, timeout=max(deadline - time.monotonic(), 1))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address, processes
    finally:
        for process in reversed(started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
