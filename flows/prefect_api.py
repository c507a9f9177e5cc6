"""Which Prefect API `digest run` and `digest serve` use, said before any work.

`PREFECT_API_URL` when set (it must answer); else a server already answering on the configured local
address (`PREFECT_SERVER_API_HOST`/`PREFECT_SERVER_API_PORT`, by default http://127.0.0.1:4200/api);
else, for `digest run` only, Prefect's temporary server (a served deployment on a temporary server
would be seen by nobody, so `digest serve` refuses it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tasks.errors import DigestError

START_SERVER = "PREFECT_SERVER_API_HOST=127.0.0.1 prefect server start"


class ApiUnreachable(DigestError):
    """No usable Prefect API: one line naming the URL and the fix."""


@dataclass(frozen=True)
class PrefectApi:
    url: str | None  # None: Prefect's temporary server, started on the first API call
    origin: str  # why this one: "PREFECT_API_URL", "already running", or why a temporary server

    def describe(self) -> str:
        if self.url is None:
            return f"temporary server ({self.origin})"
        return f"{self.url} ({self.origin})"


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
