"""Batch stage commands over JSON lines (`digest extract|dedup|cluster|summarise --input --output`).

They call the same stage functions as the flow, without Prefect, for debugging,
benchmarks and other pipelines. One JSON object a line in, one a line out.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from tasks.clean import CleaningRules, clean
from tasks.cluster import ClusterOptions, cluster
from tasks.dedup import DedupOptions, dedup_across, dedup_within
from tasks.errors import DigestError
from tasks.models import Dispatch, RawDispatch, parse_datetime
from tasks.summarise import SummaryOptions, summarise_dispatches

# De-duplication and clustering work on the text as given: segmentation only, no boilerplate rules.
SEGMENT_ONLY = CleaningRules(captions=[], inline_credits=[], drop_lines=[], datelines=[])


class InputError(DigestError):
    """A bad input line; the message names the line and the reason."""


def read_lines(source: Path | None) -> Iterator[tuple[int, dict]]:
    stream = sys.stdin if source is None or str(source) == "-" else source.open(encoding="utf-8")
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"line {number}: not JSON: {exc.msg}") from None
            if not isinstance(record, dict) or "id" not in record:
                raise InputError(f'line {number}: an object with an "id" is required')
            yield number, record


def write_lines(records: Iterable[dict], target: Path | None) -> None:
    stream = sys.stdout if target is None or str(target) == "-" else target.open("w", encoding="utf-8")
    try:
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if stream is not sys.stdout:
            stream.close()


def _dispatch(number: int, record: dict, field: str, rules: CleaningRules, kind: str = "text") -> Dispatch | None:
    body = record.get(field)
    if not isinstance(body, str):
        raise InputError(f'line {number}: "{field}" must be a string')
    raw = RawDispatch(
        source=str(record.get("source", "input")),
        location=f"line {number}",
        body=body,
        kind=kind,
        title=record.get("title"),
        published=parse_datetime(record.get("published")),
        url=record.get("url"),
    )
    dispatch, _, _ = clean(raw, rules)
    return replace(dispatch, id=str(record["id"])) if dispatch else None


def extract(records: Iterable[tuple[int, dict]], rules: CleaningRules) -> Iterator[dict]:
    for number, record in records:
        dispatch = _dispatch(number, record, "html", rules, kind="html")
        yield {
            "id": record["id"],
            "text": "\n\n".join(b.text for b in dispatch.blocks) if dispatch else "",
            "title": dispatch.title if dispatch else None,
            "published": dispatch.published.isoformat() if dispatch and dispatch.published else None,
            "language": dispatch.language if dispatch else None,
        }


def dedup(records: Iterable[tuple[int, dict]], options: DedupOptions) -> Iterator[dict]:
    dispatches = [d for number, record in records if (d := _dispatch(number, record, "text", SEGMENT_ONLY))]
    unique, _ = dedup_across(dispatches, options)
    duplicate_of = {copy.dispatch_id: d.id for d in unique for copy in d.copies}
    kept = {d.id: dedup_within(d, options) for d in unique}
    for dispatch in dispatches:
        cleaned, removed = kept.get(dispatch.id, (dispatch, []))
        line = {
            "id": dispatch.id,
            "text": "\n\n".join(b.text for b in cleaned.blocks),
            "removed": [{"text": r.text, "reason": r.reason, "score": r.score, "kept": r.kept} for r in removed],
        }
        if dispatch.id in duplicate_of:
            line["duplicate_of"] = duplicate_of[dispatch.id]
        yield line


def cluster_lines(records: Iterable[tuple[int, dict]], options: ClusterOptions) -> Iterator[dict]:
    dispatches = [d for number, record in records if (d := _dispatch(number, record, "text", SEGMENT_ONLY))]
    for story in cluster(dispatches, options):
        yield {"story": story.id, "ids": [d.id for d in story.dispatches], "headline": story.headline}


def summarise_lines(records: Iterable[tuple[int, dict]], algorithm: str) -> Iterator[dict]:
    for number, record in records:
        docs = record.get("docs")
        if not isinstance(docs, list) or not docs:
            raise InputError(f'line {number}: "docs" must be a non-empty list of texts')
        language = record.get("lang")
        rules = CleaningRules(languages=(language,), default_language=language) if language else CleaningRules()
        dispatches = [
            d
            for n, text in enumerate(docs)
            if (d := _dispatch(number, {"id": f"{record['id']}:{n}", "text": text}, "text", rules))
        ]
        dispatches = [dedup_within(d, DedupOptions())[0] for d in dispatches]
        length = {"words": record["words"]} if record.get("words") else {"sentences": record.get("sentences", 4)}
        options = SummaryOptions(algorithm=algorithm, **length)
        summary = summarise_dispatches(dispatches, options, language) if dispatches else []
        yield {"id": record["id"], "summary": [text for text, _, _ in summary]}
