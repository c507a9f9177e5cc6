"""Digest files on disk: every file written atomically (temporary file, fsync, rename)."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import: os.umask can only be read by setting it, which is not thread-safe.
FILE_MODE = 0o666 & ~_umask()


class OutputError(OSError):
    """The digest could not be written (disk full, folder read-only...); nothing of it was replaced."""


def _staged(path: Path, text: str) -> str:
    """`text` in a temporary file beside `path`, fsynced; its name. Nothing is left when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, FILE_MODE)  # mkstemp's files are private (0600): a digest is not
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target."""
    temporary = _staged(path, text)
    try:
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_digest(rendered: dict[str, str], out_dir: Path, day: date) -> list[Path]:
    """`out_dir/YYYY-MM-DD.<ext>` for each rendered format; returns the paths written.

    Every format is staged before any is renamed: a disk that fills up on the JSON must not leave
    today's Markdown beside yesterday's JSON. The error names the folder (OSError alone did not)."""
    paths = [out_dir / f"{day.isoformat()}.{extension}" for extension in rendered]
    staged: list[str] = []
    try:
        for path, text in zip(paths, rendered.values()):
            staged.append(_staged(path, text))
    except OSError as exc:
        for temporary in staged:
            Path(temporary).unlink(missing_ok=True)
        raise OutputError(exc.errno, f"cannot write the digest to {out_dir}: {exc.strerror or exc}") from None
    for temporary, path in zip(staged, paths):
        os.replace(temporary, path)
    return paths


@task(name="write-digest", cache_policy=NO_CACHE)
def write_digest_task(rendered: dict[str, str], out_dir: Path, day: date) -> list[Path]:
    return write_digest(rendered, out_dir, day)
