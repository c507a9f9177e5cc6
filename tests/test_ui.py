"""End to end as a user does it: a real Prefect server, `digest serve`, and a Custom run from the UI
in headless Chromium (Debian's package, driven by Playwright; nothing leaves 127.0.0.1)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SAMPLES
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, DIGEST, require_browser as _require_browser
from tests.prefect_server import prefect_server, stop, wait_for

pytestmark = pytest.mark.prefect


@pytest.fixture
def prefect_server_env(tmp_path):
    with prefect_server(tmp_path / "prefect-home") as env:
        yield env


def test_custom_run_from_the_ui_writes_the_digest_and_the_artifact(prefect_server_env, tmp_path):
    _require_browser()
    from playwright.sync_api import sync_playwright

    env, api = prefect_server_env, prefect_server_env["PREFECT_API_URL"]
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[digest]\nout_dir = "{tmp_path / "digests"}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[[schedules]]\nname = "morning"\ncron = "0 6 * * *"\ntimezone = "Europe/Paris"\n'
        f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n',
        encoding="utf-8",
    )
    serving = subprocess.Popen(
        [*DIGEST, "serve", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "serve.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deployment = wait_for(lambda: _deployment(api), 90, "the served deployment")
        assert deployment["schedules"][0]["schedule"] == {
            "cron": "0 6 * * *",
            "timezone": "Europe/Paris",
            "day_or": True,
        }
        base = api.removesuffix("/api")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            # The UI tries outside hosts even with analytics off: nothing may leave 127.0.0.1.
            page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: route.abort())
            try:
                page.goto(f"{base}/v2/deployments")
                page.get_by_role("link", name="morning", exact=True).first.click()
                page.get_by_role("button", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Custom run").click()
                # sentences: empty (the config's) until its `int` toggle is chosen, then the one number shown
                page.get_by_text("int", exact=True).first.click()
                page.get_by_role("spinbutton").first.fill("2")
                _submit(page, api, deployment["id"], env["PREFECT_HOME"])
            finally:
                page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)  # kept for a failing run
                shutil.copy(tmp_path / "ui.png", "/tmp/digest-ui.png")
                browser.close()

        run = wait_for(lambda: _finished_run(api, deployment["id"]), 180, "the flow run to finish")
        assert run["state"]["type"] == "COMPLETED", run["state"]
        assert run["parameters"]["sentences"] == 2
        written = sorted((tmp_path / "digests").glob("*.json"))
        assert len(written) == 1
        data = json.loads(written[0].read_text(encoding="utf-8"))
        assert data["stories"] and all(len(story["summary"]) <= 2 for story in data["stories"])
        artifacts = httpx.post(
            f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}, timeout=10
        ).json()
        assert [a["key"] for a in artifacts] == ["daily-digest"]
        assert data["stories"][0]["headline"].split(":")[0] in artifacts[0]["data"]
    finally:
        stop(serving)


def _submit(page, api: str, deployment_id: str, prefect_home: str) -> None:
    """Submit the form until the API has its run: a server busy with its SQLite database can answer the
    UI's request with an error, and the form then stays open with Submit. A failure says what the page showed."""
    submit = page.get_by_role("button", name="Submit")
    for _ in range(3):
        submit.click()
        # The run the form created, found through the API (the toast can come and go on a loaded machine).
        try:
            wait_for(lambda: _runs(api, deployment_id), 45, "the run submitted from the UI")
            return
        except AssertionError:
            if not submit.is_visible():
                break
    server_log = (Path(prefect_home) / "server.log").read_text(errors="replace")[-3000:]
    raise AssertionError(
        f"no run from the UI's form; the page showed:\n{page.inner_text('body')[-3000:]}\n"
        f"the server's log ends with:\n{server_log}"
    )


def _deployment(api: str):
    found = httpx.post(f"{api}/deployments/filter", json={"deployments": {"name": {"any_": ["morning"]}}}, timeout=5)
    return found.json()[0] if found.status_code == 200 and found.json() else None


def _runs(api: str, deployment_id: str) -> list[dict]:
    """Flow runs of the deployment made with the Custom run's parameter (the schedule's own have 4)."""
    runs = httpx.post(
        f"{api}/flow_runs/filter", json={"deployments": {"id": {"any_": [deployment_id]}}}, timeout=5
    ).json()
    return [r for r in runs if r["parameters"].get("sentences") == 2]


def _finished_run(api: str, deployment_id: str):
    finished = [
        r
        for r in _runs(api, deployment_id)
        if r["state"] and r["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
    ]
    return finished[0] if finished else None
