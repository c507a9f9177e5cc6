"""Builders for tests: dispatches from plain text, without files."""

import time
from pathlib import Path

from tasks.clean import CleaningRules, clean
from tasks.dedup import DedupOptions, dedup_within
from tasks.models import Dispatch, RawDispatch, parse_datetime
from tests.conftest import SAMPLES

FRENCH_SAMPLES = ("lyon-crue-afp.txt", "lyon-crue-progres.html", "senat-budget-afp.txt")


def make_dispatch(text: str, outlet: str = "Test", title: str | None = None, published: str | None = None,
                  language: str | None = None) -> Dispatch:
    rules = CleaningRules(languages=(language,), default_language=language) if language else CleaningRules()
    raw = RawDispatch(source="test", location=f"test:{outlet}:{title}", body=text, kind="text", outlet=outlet,
                      title=title, published=parse_datetime(published))
    dispatch, _, failure = clean(raw, rules)
    assert failure is None, failure
    return dedup_within(dispatch, DedupOptions())[0]


def load_all(spec) -> tuple[list, list]:
    """(raws, failures) of a files source, collected."""
    from tasks.sources import load_source

    raws: list = []
    failures = load_source(spec, lambda raw, _: raws.append(raw))
    return raws, failures


class SlowToRead(str):
    """A page body that takes `SLOW_READ_SECONDS` to unpickle: a page a worker is slow to clean."""

    def __reduce__(self):
        return (_read_slowly, (str(self),))


SLOW_READ_SECONDS = 0.5


def _read_slowly(text: str) -> str:
    time.sleep(SLOW_READ_SECONDS)
    return text


class KillsItsReader(str):
    """A page body that kills the process unpickling it: a worker that dies on a page."""

    def __reduce__(self):
        import os

        return (os._exit, (3,))


def french_samples(folder: Path) -> Path:
    """`folder`, made, with the three French samples (two outlets on one flood, one on the budget)."""
    folder.mkdir()
    for name in FRENCH_SAMPLES:
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    return folder
