"""One error tree (tasks/errors.py): every exception class of tasks/ and flows/ derives from DigestError."""

import importlib
import inspect
import pickle
import pkgutil

import pytest

import flows
import tasks
from tasks.errors import ConfigError, DeliveryError, DigestError, FetchError, OutputError

MODULES = sorted(
    f"{package.__name__}.{info.name}" for package in (tasks, flows) for info in pkgutil.iter_modules(package.__path__)
)


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of tasks/ or flows/ (its qualified name: the class)."""
    found = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{value.__qualname__}"] = value
    return found


def test_every_exception_class_derives_from_digest_error():
    classes = _exception_classes()
    assert len(classes) >= 19  # the root, its 6 kinds and the 12 classes still defined in their own modules
    assert [name for name, cls in classes.items() if not issubclass(cls, DigestError)] == []


# Where each was importable from before the tree: other code and tests import them from there.
FORMER_HOMES = {
    "tasks.output": ["OutputError"],
    "tasks.feeds": ["NotAFeed"],
    "tasks.workers": ["ExecutorUnreachable", "WorkerDied"],
    "tasks.sources": ["Refused"],
    "tasks.fetch": ["FetchError"],
    "tasks.store": ["StoreError", "StoreBusy"],
    "tasks.deliver": ["DeliveryError", "RecipientRefused"],
    "flows.stages": ["InputError"],
    "flows.opml": ["OpmlError"],
    "flows.prefect_api": ["ApiUnreachable"],
    "flows.settings": ["ConfigError"],
    "flows.daily_digest": ["AllSourcesFailed", "DeliveryFailed"],
    "flows.starter": ["StarterExists"],
}


@pytest.mark.parametrize("module", sorted(FORMER_HOMES))
def test_every_class_is_importable_where_it_was(module):
    for name in FORMER_HOMES[module]:
        assert issubclass(getattr(importlib.import_module(module), name), DigestError)


def test_the_built_in_bases_callers_rely_on_are_kept():
    from concurrent.futures.process import BrokenProcessPool

    from tasks.workers import WorkerDied

    assert issubclass(WorkerDied, BrokenProcessPool)  # tasks/clean.py catches a dead local worker and a Dask one alike
    written = OutputError(28, "cannot write the digest to out: No space left on device")
    assert (
        isinstance(written, OSError)
        and str(written) == "[Errno 28] cannot write the digest to out: No space left on device"
    )


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("a.toml: digest.title: too long", "a.toml: email.port: not a port"),
        FetchError("HTTP 404", status=404),
        FetchError("timeout after 15 s"),
        DeliveryError("recipient refused", temporary=True),
        OutputError(28, "cannot write"),
    ],
    ids=repr,
)
def test_errors_cross_processes_whole(error):
    """Dask workers and Prefect states pickle exceptions: their attributes come back with them."""
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), vars(copy)) == (type(error), str(error), vars(error))


@pytest.mark.parametrize("robots, allowed", [(401, False), (403, False), (404, True), (503, True)])
def test_robots_txt_is_read_by_the_status_its_fetch_error_carries(robots, allowed):
    """A robots.txt behind a login (401, 403) disallows everything; a missing or failing one allows."""
    import asyncio

    from tasks.fetch import Fetcher, FetchOptions
    from tests.http_server import FixtureServer, Reply

    async def ask(url: str) -> tuple[bool, FetchError]:
        async with Fetcher(FetchOptions(host_delay=0, backoff=0.01, retries=1)) as fetcher:
            with pytest.raises(FetchError) as raised:
                await fetcher.get(url.replace("/a1", "/robots.txt"), local=True)
            return await fetcher.allowed(url, local=True), raised.value

    with FixtureServer() as server:
        server.routes["/robots.txt"] = Reply(robots, "User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
        answer, error = asyncio.run(ask(server.url("/a1")))
    assert (answer, error.status) == (allowed, robots)
    assert str(error) == (f"HTTP {robots}" if robots < 500 else f"HTTP {robots} (after 2 attempts)")


def test_a_fetch_error_without_an_http_answer_has_no_status():
    import asyncio

    from tasks.fetch import Fetcher, FetchOptions

    async def get() -> FetchError:
        async with Fetcher(FetchOptions()) as fetcher:
            with pytest.raises(FetchError) as raised:
                await fetcher.get("ftp://example.org/feed.xml")
            return raised.value

    error = asyncio.run(get())
    assert (str(error), error.status) == (
        "refused 'ftp://example.org/feed.xml': only http and https URLs are fetched",
        None,
    )
