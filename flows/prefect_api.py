"""Which Prefect API `digest run` and `digest serve` use, said before any work.

`PREFECT_API_URL` when set (it must answer); else a server already answering on the configured local
address (`PREFECT_SERVER_API_HOST`/`PREFECT_SERVER_API_PORT`, by default http://127.0.0.1:4200/api);
else, for `digest run` only, a temporary server of the run's own (a served deployment on a temporary
server would be seen by nobody, so `digest serve` refuses it).

The temporary server is `prefect server start` in a process of its own, API only, on a free local port,
started as soon as the run knows it needs one and stopped when the run ends. Prefect would start the same
on its first API call, but only then, after the config is checked and the flow's modules are imported
(~5 s), and importing its server code (~4 s) in the run's process: started first, the server readies
itself while they load.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tasks.errors import DigestError

START_SERVER = "PREFECT_SERVER_API_HOST=127.0.0.1 prefect server start"
SERVER_START_TIMEOUT = 120.0  # seconds: a first start migrates a new database (~15-30 s on 2 busy cores)


class ApiUnreachable(DigestError):
    """No usable Prefect API: one line naming the URL and the fix."""


@dataclass(frozen=True)
class PrefectApi:
    url: str | None  # None: a temporary server is needed (see `TemporaryServer`)
    origin: str  # why this one: "PREFECT_API_URL", "already running", or why a temporary server

    def describe(self) -> str:
        if self.url is None:
            return f"temporary server ({self.origin})"
        return f"{self.url} ({self.origin})"


# Runs the command given after it, asking Linux first (prctl PR_SET_PDEATHSIG, kept across exec) to
# send it SIGTERM when the run's process dies: a run killed (SIGTERM, SIGKILL, OOM) leaves no server
# behind. Elsewhere the command just runs, and is stopped when the run ends normally.
ENDS_WITH_PARENT = """import ctypes, os, signal, sys
parent, command = int(sys.argv[1]), sys.argv[2:]
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
except (AttributeError, OSError):
    pass
if os.getppid() != parent:
    sys.exit("the run that started this server has ended")
os.execv(command[0], command)
"""


class TemporaryServer:
    """`prefect server start` (API only, no services) on a free 127.0.0.1 port, for one run; its output
    goes to a file that an error quotes. `ready` waits for it, `stop` ends it (a context manager does)."""

    def __init__(self, why: str):
        self._log = tempfile.TemporaryFile()
        self._port = free_port()
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self._port)]
        self._process = subprocess.Popen(
            [sys.executable, "-c", ENDS_WITH_PARENT, str(os.getpid()), *command, "--no-services", "--no-ui"]
            + ["--analytics-off", "--log-level", "WARNING"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the run, which stops the server
        )
        self.api = PrefectApi(f"http://127.0.0.1:{self._port}/api", f"temporary server, {why}")

    def __enter__(self) -> TemporaryServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def ready(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Return once the server answers; ApiUnreachable with its last output if it ends or times out."""
        assert self.api.url is not None
        deadline = time.monotonic() + timeout
        while not answers(self.api.url, timeout=1.0):
            if self._process.poll() is not None or time.monotonic() > deadline:
                why = "did not answer in time" if self._process.poll() is None else "ended"
                raise ApiUnreachable(f"the temporary Prefect server {why}: {self._output()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Once the run's logs and events are sent (else Prefect retries them at exit, ~80 s), the server ends."""
        if self._process.poll() is None:
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all()
            EventsWorker.drain_all()
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()

    def _output(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return " / ".join(lines[-5:]) or "no output"


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_api_url() -> str:
    """The API address a local `prefect server start` uses with the current settings."""
    from prefect.settings import get_current_settings

    api = get_current_settings().server.api
    host = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host
    return f"http://{host}:{api.port}/api"


def answers(url: str, timeout: float = 2.0) -> bool:
    """Its health endpoint answers (401 or 403: an API that wants a key, such as Prefect Cloud's)."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code in (200, 401, 403)
    except httpx.HTTPError:
        return False


def choose_api(temporary_allowed: bool) -> PrefectApi:
    """The API to use, or ApiUnreachable with the fix."""
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    if configured:
        if not answers(configured):
            raise ApiUnreachable(
                f"the Prefect API at {configured} (PREFECT_API_URL) does not answer: start that "
                f"server, or fix PREFECT_API_URL (unset it to use {local_api_url()} or, for "
                "`digest run`, a temporary server)"
            )
        return PrefectApi(configured, "PREFECT_API_URL")
    local = local_api_url()
    if answers(local, timeout=1.0):
        return PrefectApi(local, "already running")
    if not temporary_allowed:
        raise ApiUnreachable(
            f"no Prefect API: PREFECT_API_URL is unset and nothing answers at {local}; start a "
            f"server (`{START_SERVER}`) and set PREFECT_API_URL={local}"
        )
    return PrefectApi(None, f"nothing answers at {local}")


@contextmanager
def using(api: PrefectApi) -> Iterator[None]:
    """Prefect settings (and the environment, for the runs `serve` starts in subprocesses) pointing at `api`."""
    if api.url is None or api.origin == "PREFECT_API_URL":
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api.url
    try:
        with temporary_settings(updates={PREFECT_API_URL: api.url}):
            yield
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before
