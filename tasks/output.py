"""Digest files on disk: every file written atomically (temporary file, fsync, rename); and the
archive beside them (index.html, feed.xml), rebuilt from the digests on disk."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from tasks.errors import OutputError  # defined there, with the other errors; imported from here too
from tasks.render import ArchiveEntry, to_archive_html, to_atom

# The latest days in the feed, each with its whole digest (80-700 KB on real pages), within a size feed
# readers take; the index lists every day.
FEED_ENTRIES = 10
FEED_BYTES = 5_000_000
DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.json")
BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import: os.umask can only be read by setting it, which is not thread-safe.
FILE_MODE = 0o666 & ~_umask()


def staged(path: Path, text: str, mode: int = FILE_MODE) -> str:
    """`text` (its line ends as they are) in a temporary file beside `path`, fsynced, with `mode`; its
    name, to rename over `path`. Nothing is left when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, mode)  # mkstemp's files are private (0600): a digest is not
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
    temporary = staged(path, text)
    try:
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_digest(rendered: dict[str, str], out_dir: Path, day: date) -> list[Path]:
    """`out_dir/YYYY-MM-DD.<ext>` for each rendered format; returns the paths written.

    Every format is staged before any is renamed: a disk that fills up on the JSON must not leave
    today's Markdown beside yesterday's JSON. The error names the folder (OSError alone did not)."""
    files = {out_dir / f"{day.isoformat()}.{extension}": text for extension, text in rendered.items()}
    return _write_together(files, f"the digest to {out_dir}")


def _write_together(files: dict[Path, str], what: str) -> list[Path]:
    """Every file staged before any is renamed over its target; OutputError naming `what` if one cannot be."""
    temporaries: list[str] = []
    try:
        for path, text in files.items():
            temporaries.append(staged(path, text))
    except OSError as exc:
        for temporary in temporaries:
            Path(temporary).unlink(missing_ok=True)
        raise OutputError(exc.errno, f"cannot write {what}: {exc.strerror or exc}") from None
    for temporary, path in zip(temporaries, files):
        os.replace(temporary, path)
    return list(files)


def archive_entries(out_dir: Path, with_body: int = FEED_ENTRIES, body_bytes: int = FEED_BYTES) -> list[ArchiveEntry]:
    """The digests in `out_dir` (a YYYY-MM-DD.json beside its .html), newest first; the latest `with_body`
    carry their HTML page's body, for the feed, as long as their bodies stay within `body_bytes` (the
    newest always does). A file that cannot be read or parsed is left out."""
    entries: list[ArchiveEntry]
    entries, total = [], 0
    for path in sorted(out_dir.glob("*.json"), reverse=True):
        match = DAY_FILE.fullmatch(path.name)
        page = path.with_suffix(".html")
        if not match:
            continue
        try:
            page.stat()  # a digest without its page is not listed
            day = date.fromisoformat(match[1])
            data = json.loads(path.read_text(encoding="utf-8"))
            stories = data.get("stories") or []
            body = None
            if len(entries) < with_body and (total < body_bytes or not entries):
                text = page.read_text(encoding="utf-8")
                body = cast(str, (BODY.search(text) or [None, text])[1]).strip()  # BODY's group always takes part
                total += len(body.encode())
                if total > body_bytes and entries:
                    body = None
            updated = _updated(day, stories)
            lead = stories[0].get("headline") if stories and isinstance(stories[0], dict) else ""
            entries.append(
                ArchiveEntry(
                    day=match[1],
                    title=str(data.get("title") or ""),
                    language=str(data.get("language") or ""),
                    stories=len(stories),
                    lead=str(lead or ""),
                    updated=updated,
                    body=body,
                )
            )
        except (OSError, ValueError, AttributeError, TypeError):  # not a digest, or half of one
            continue
    return entries


def _updated(day: date, stories: list[Any]) -> datetime:  # the stories of a digest's JSON
    """An entry's `updated`: its digest's latest dispatch time within the day and the next (the span the
    flow keeps dated), else the day's start, UTC. Drawn from the digest, not the clock, so that a re-run
    that gives the same digest gives the same feed, byte for byte; one with later news moves it on."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    times = [start]
    for story in stories:
        try:
            moment = datetime.fromisoformat(story["last_published"])
        except (TypeError, KeyError, ValueError):
            continue
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if start <= moment < start + timedelta(days=2):
            times.append(moment.astimezone(UTC))
    return max(times)


def write_archive(
    out_dir: Path,
    title: str,
    language: str = "auto",
    public_url: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[Path]:
    """`out_dir/index.html` and `out_dir/feed.xml`, rebuilt from the digests in `out_dir`, so that a re-run
    or a backfill leaves them right; each written atomically. `language` and `overrides` are
    `digest.language` and `digest.labels`. Returns their paths."""
    out_dir = Path(out_dir)
    entries = archive_entries(out_dir)
    return _write_together(
        {
            out_dir / "index.html": to_archive_html(entries, title, language, overrides),
            out_dir / "feed.xml": to_atom(entries, title, language, public_url, overrides),
        },
        f"the archive to {out_dir}",
    )
