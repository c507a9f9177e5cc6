"""Sources: load dispatches from local files and folders.

A `.txt` dispatch may open with metadata lines (`date 2025-08-19`, `title: …`,
`source: …`, `url: …`); a date may share its line with the text that follows.
`.html` pages are kept as HTML for the cleaning stage; `.json` holds one record
or a list, `.jsonl` one record a line: `title`, `text` or `html`, `url`,
`published`, `source`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.models import Failure, RawDispatch, parse_datetime

DATE_LINE = re.compile(r"^\s*date\s*:?\s*(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?)[ \t]*")
FIELD_LINE = re.compile(r"^\s*(title|source|url)\s*:\s*(.+?)\s*$", re.IGNORECASE)
SUFFIXES = {".txt", ".html", ".htm", ".json", ".jsonl"}


class SourceSpec(BaseModel):
    """One configured source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["files"] = "files"
    path: Path = Field(description="a file or a folder of .txt, .html, .json and .jsonl dispatches")


def load_source(spec: SourceSpec) -> tuple[list[RawDispatch], list[Failure]]:
    """Every dispatch of a source; unreadable files become failures, never exceptions."""
    if not spec.path.exists():
        return [], [Failure(spec.name, str(spec.path), "path does not exist")]
    files = sorted(p for p in spec.path.rglob("*") if p.suffix.lower() in SUFFIXES) if spec.path.is_dir() else [spec.path]
    if spec.path.is_dir() and not files:
        return [], [Failure(spec.name, str(spec.path), "folder holds no .txt, .html, .json or .jsonl file")]
    raws, failures = [], []
    for path in files:
        try:
            raws.extend(load_file(path, spec.name))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            failures.append(Failure(spec.name, str(path), f"unreadable: {exc}"))
    return raws, failures


def load_file(path: Path, source: str) -> list[RawDispatch]:
    """The dispatches of one file, attributed to the configured `source` unless they name their outlet."""
    suffix = path.suffix.lower()
    body = path.read_text(encoding="utf-8")
    if suffix in {".html", ".htm"}:
        return [RawDispatch(source=source, location=str(path), body=body, kind="html")]
    if suffix == ".json":
        data = json.loads(body)
        records = data if isinstance(data, list) else [data]
        return [_from_record(r, path, n, source) for n, r in enumerate(records, start=1)]
    if suffix == ".jsonl":
        lines = [(n, line) for n, line in enumerate(body.splitlines(), start=1) if line.strip()]
        return [_from_record(json.loads(line), path, n, source) for n, line in lines]
    return [_from_text(body, path, source)]


def _from_text(body: str, path: Path, source: str) -> RawDispatch:
    fields: dict[str, str] = {}
    published = None
    lines = body.split("\n")
    while lines:
        if published is None and (match := DATE_LINE.match(lines[0])):
            published = parse_datetime(match.group(1))
            lines[0] = lines[0][match.end() :]
            if not lines[0].strip():
                lines.pop(0)
        elif match := FIELD_LINE.match(lines[0]):
            fields[match.group(1).lower()] = match.group(2)
            lines.pop(0)
        else:
            break
    return RawDispatch(
        source=source,
        location=str(path),
        body="\n".join(lines),
        kind="text",
        outlet=fields.get("source"),
        title=fields.get("title"),
        published=published,
        url=fields.get("url"),
    )


def _from_record(record: object, path: Path, line: int, source: str) -> RawDispatch:
    if not isinstance(record, dict):
        raise ValueError(f"record {line} is not an object")
    html, text = record.get("html"), record.get("text")
    if not (html or text):
        raise ValueError(f"record {line} has neither 'text' nor 'html'")
    return RawDispatch(
        source=source,
        location=f"{path}#{line}",
        body=str(html or text),
        kind="html" if html else "text",
        outlet=record.get("source"),
        title=record.get("title"),
        published=parse_datetime(record.get("published")),
        url=record.get("url"),
    )


@task(name="load-source", cache_policy=NO_CACHE, retries=1)
def load_source_task(spec: SourceSpec) -> tuple[list[RawDispatch], list[Failure]]:
    """One task per source, so a failing source fails (and retries) alone."""
    return load_source(spec)
