"""The project's exceptions: one tree, as httpx has, so that a caller catches what it expects by kind and
anything else shows as the bug it is.

    DigestError                   the root: a problem the message explains to the user, on its own
    ├── ConfigError               configuration problems, one line each (`problems`)
    ├── FetchError                a source or an item that could not be read (`status`: the HTTP status, if any)
    │   └── Refused               tasks.sources: a local file not read (not regular, over the size cap)
    ├── ExtractionError           content that is not what it was taken for
    │   └── NotAFeed              tasks.feeds: a feed with no entries, or not a feed
    ├── StoreError                the store cannot be used (unreachable, read-only, newer schema)
    │   └── StoreBusy             tasks.store: another run held it for longer than this one could wait
    ├── OutputError               the digest could not be written (also an OSError, with its errno)
    │   └── StarterExists         flows.starter: `digest init` would overwrite a configuration
    ├── DeliveryError             sending failed (`temporary`: whether trying again may help)
    │   ├── RecipientRefused      tasks.deliver: the server refused a recipient; others may still be sent
    │   └── DeliveryFailed        flows.daily_digest: the digest is written and stored, its email not sent
    ├── AllSourcesFailed          flows.daily_digest: nothing could be read
    ├── ExecutorUnreachable       tasks.workers: the Dask scheduler of `cleaning.executor` cannot be used
    ├── WorkerDied                tasks.workers: the work killed its workers (also a BrokenProcessPool)
    ├── ApiUnreachable            flows.prefect_api: no usable Prefect API
    ├── InputError                flows.stages: a bad input line of a stage command
    └── OpmlError                 flows.opml: an OPML file that cannot be read

The subclasses are defined in the modules named, and importable from there as before. A built-in base is
kept only where a caller relies on it: OutputError is an OSError (its message is OSError's "[Errno n] …"),
WorkerDied a BrokenProcessPool (the cleaning stage catches that for a local worker and a Dask one alike).
Every exception class of tasks/ and flows/ derives from DigestError (tests/test_errors.py walks them).
"""

from __future__ import annotations


class DigestError(Exception):
    """A problem the message explains to the user on its own (the CLI shows it as one line, not a traceback)."""


class ConfigError(DigestError):
    """Configuration problems, one line each worded for the user: file, key, what is wrong and the fix."""

    def __init__(self, *problems: str):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class FetchError(DigestError):
    """A fetch that failed for good; the message is the reason shown in the run report, `status` the HTTP
    status when an HTTP answer was the reason (None for a timeout, a refused address...)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class ExtractionError(DigestError):
    """Content that is not what it was taken for (a feed without entries); the message says what it is."""


class StoreError(DigestError):
    """The store cannot be used (unreachable, read-only, newer schema); the message says which."""


class OutputError(DigestError, OSError):
    """The digest could not be written (disk full, folder read-only...); nothing of it was replaced."""


class DeliveryError(DigestError):
    """Sending failed; `temporary` says whether trying again may help."""

    def __init__(self, message: str, temporary: bool = False):
        super().__init__(message)
        self.temporary = temporary
