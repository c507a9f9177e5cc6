"""Regenerate the README's pictures: docs/digest.png, docs/digest.md and docs/prefect-ui.png.

Starts a Prefect server on 127.0.0.1 (a free port, a throw-away PREFECT_HOME) and `digest serve` on the
bundled samples, runs the deployment for 2026-11-27, then takes the pictures in headless Chromium
(Debian's /usr/bin/chromium driven by Playwright; nothing leaves 127.0.0.1). Stops all it started.

    .venv/bin/python scripts/screenshots.py        # ~1-2 minutes
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DAY = "2026-11-27"  # the samples' day
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTSIDE = re.compile(r"^(?!file:|https?://127\.0\.0\.1[:/])")  # the UI calls outside hosts even with analytics off
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(1)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A process in its own session, so stopping it stops its children (flow runs) too."""
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def prefect_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(port),
               PREFECT_API_URL=f"http://127.0.0.1:{port}/api", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_RUNNER_POLL_FREQUENCY="2")
    return env


def write_config(folder: Path) -> Path:
    config = folder / "digest.toml"
    config.write_text(
        f'[digest]\nout_dir = "{folder / "digests"}"\ndata_dir = "{folder / "data"}"\n\n'
        f'[[sources]]\nname = "samples"\npath = "{ROOT / "samples"}"\n\n'
        '[[schedules]]\nname = "daily"\ncron = "0 6 * * *"\ntimezone = "Europe/Paris"\n', encoding="utf-8")
    return config


def api_post(api: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{api}{path}", json=body, timeout=10)


def served_deployment(api: str) -> dict | None:
    found = api_post(api, "/deployments/filter", {"deployments": {"name": {"any_": ["daily"]}}})
    return found.json()[0] if found.status_code == 200 and found.json() else None


def healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def run_deployment(api: str, deployment_id: str) -> None:
    """One run for the samples' day, as the UI's Run button makes it; waits for it to complete."""
    run = api_post(api, f"/deployments/{deployment_id}/create_flow_run",
                   {"parameters": {"date": DAY}, "state": {"type": "SCHEDULED"}}).json()

    def finished() -> dict | None:
        state = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=5).json()["state"]
        return state if state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None

    state = wait_for(finished, 180, "the flow run")
    if state["type"] != "COMPLETED":
        raise RuntimeError(f"the flow run ended {state['type']}: {state.get('message')}")


def screenshot(page: Page, url: str, target: Path, ready: str) -> None:
    page.goto(url)
    page.get_by_text(ready).first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(target), full_page=True)
    print(f"wrote {target.relative_to(ROOT)}")


def take_pictures(html: Path, deployment_page: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 760, "height": 900})
            page.route(OUTSIDE, lambda route: route.abort())
            screenshot(page, html.as_uri(), DOCS / "digest.png", "Run report")
            page.set_viewport_size({"width": 1440, "height": 900})
            screenshot(page, deployment_page, DOCS / "prefect-ui.png", "Completed")
        finally:
            browser.close()


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="digest-screenshots-") as temporary:
        folder = Path(temporary)
        env = prefect_env(folder / "prefect-home", free_port())
        api = env["PREFECT_API_URL"]
        prefect = str(Path(sys.executable).parent / "prefect")
        with started([prefect, "server", "start"], env, folder / "server.log"):
            wait_for(lambda: healthy(api), 180, f"the Prefect server (log: {folder / 'server.log'})")
            serve = [sys.executable, "-m", "flows.cli", "serve", "--config", str(write_config(folder))]
            with started(serve, env, folder / "serve.log"):
                deployment = wait_for(lambda: served_deployment(api), 120, "the served deployment")
                run_deployment(api, deployment["id"])
                shutil.copy(folder / "digests" / f"{DAY}.md", DOCS / "digest.md")
                print("wrote docs/digest.md")
                take_pictures(folder / "digests" / f"{DAY}.html",
                              f"{api.removesuffix('/api')}/v2/deployments/deployment/{deployment['id']}")


if __name__ == "__main__":
    main()
