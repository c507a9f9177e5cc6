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


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, FILE_MODE)  # mkstemp's files are private (0600): a digest is not
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_digest(rendered: dict[str, str], out_dir: Path, day: date) -> list[Path]:
    """`out_dir/YYYY-MM-DD.<ext>` for each rendered format; returns the paths written."""
    paths = [out_dir / f"{day.isoformat()}.{extension}" for extension in rendered]
    for path, text in zip(paths, rendered.values()):
        write_atomic(path, text)
    return paths


@task(name="write-digest", cache_policy=NO_CACHE)
def write_digest_task(rendered: dict[str, str], out_dir: Path, day: date) -> list[Path]:
    return write_digest(rendered, out_dir, day)
