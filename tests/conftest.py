import os
from pathlib import Path

import pytest

# Unit tests never talk to a Prefect API: an accidental call fails fast instead of
# starting a server. Tests that run a flow set up their own Prefect home and server.
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SHARED = Path(os.environ.get("DIGEST_SHARED_DIR", ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path in ../shared; skips the test when absent, fails it when DIGEST_REQUIRE_SHARED=1."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent (tests on ../shared data need it beside the project)"
        if os.environ.get("DIGEST_REQUIRE_SHARED") == "1":
            pytest.fail(reason + "; DIGEST_REQUIRE_SHARED=1 requires it")
        pytest.skip(reason)
    return path


def pytest_collection_modifyitems(config, items):
    """A test on a real Prefect API (the `prefect_api` fixture, even through another fixture) is marked
    `prefect`, and every `prefect` test `slow`: the server alone takes ~15 s to start."""
    for item in items:
        if "prefect_api" in item.fixturenames and item.get_closest_marker("prefect") is None:
            item.add_marker(pytest.mark.prefect)
        if item.get_closest_marker("prefect") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch):
    """Every test runs in its own folder, so the default ./data and ./digests never leak between tests."""
    monkeypatch.chdir(tmp_path)
    for variable in ("DIGEST_DATA_DIR", "DIGEST_STORE_URL"):
        # Set first, so that monkeypatch undoes whatever the test sets (the CLI's --store sets it).
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)


@pytest.fixture
def seeds() -> list[Path]:
    return sorted(shared_path("seeds").glob("*.txt"))


@pytest.fixture(scope="session")
def prefect_api():
    """One temporary Prefect server for every flow test of the session (~15 s to start)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
        # Uploads still queued when the server stops are retried for ~80 s at exit.
        APILogWorker.drain_all()
        EventsWorker.drain_all()
