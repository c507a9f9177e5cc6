"""Regenerate the docs' pictures: docs/digest.png, docs/digest.md and docs/prefect-ui.png.

Starts a Prefect server on 127.0.0.1 (a free port, a throw-away PREFECT_HOME) and `digest serve` on the
bundled samples, runs the deployment for 2026-11-27, then takes the pictures in headless Chromium
(Debian's /usr/bin/chromium driven by Playwright; nothing leaves 127.0.0.1). Stops all it started.

    .venv/bin/python scripts/screenshots.py        # ~1-2 minutes
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.prefect_server import prefect_server, stop, wait_for  # noqa: E402

DOCS = ROOT / "docs"
DAY = "2026-11-27"  # the samples' day
OUTSIDE = re.compile(r"^(?!file:|https?://127\.0\.0\.1[:/])")  # the UI calls outside hosts even with analytics off


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A process in its own session, so stopping it stops its children (flow runs) too."""
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop(process)


def write_config(folder: Path) -> Path:
    config = folder / "digest.toml"
    config.write_text(
        f'[digest]\nout_dir = "{folder / "digests"}"\ndata_dir = "{folder / "data"}"\n\n'
        f'[[sources]]\nname = "samples"\npath = "{ROOT / "samples"}"\n\n'
        '[[schedules]]\nname = "daily"\ncron = "0 6 * * *"\ntimezone = "Europe/Paris"\n',
        encoding="utf-8",
    )
    return config


def api_post(api: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{api}{path}", json=body, timeout=10)


def served_deployment(api: str) -> dict | None:
    found = api_post(api, "/deployments/filter", {"deployments": {"name": {"any_": ["daily"]}}})
    return found.json()[0] if found.status_code == 200 and found.json() else None


def run_deployment(api: str, deployment_id: str) -> None:
    """One run for the samples' day, as the UI's Run button makes it; waits for it to complete."""
    run = api_post(
        api,
        f"/deployments/{deployment_id}/create_flow_run",
        {"parameters": {"date": DAY}, "state": {"type": "SCHEDULED"}},
    ).json()

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
        with prefect_server(folder / "prefect-home") as env:
            api = env["PREFECT_API_URL"]
            serve = [sys.executable, "-m", "flows.cli", "serve", "--config", str(write_config(folder))]
            with started(serve, env, folder / "serve.log"):
                deployment = wait_for(lambda: served_deployment(api), 120, "the served deployment")
                run_deployment(api, deployment["id"])
                shutil.copy(folder / "digests" / f"{DAY}.md", DOCS / "digest.md")
                print("wrote docs/digest.md")
                take_pictures(
                    folder / "digests" / f"{DAY}.html",
                    f"{api.removesuffix('/api')}/v2/deployments/deployment/{deployment['id']}",
                )


if __name__ == "__main__":
    main()
