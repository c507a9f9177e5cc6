"""The store: dispatches and their fingerprints, feed validators, digests, deliveries and runs.

SQLite (a file, WAL mode) by default; PostgreSQL through a URL for several workers.
SQLAlchemy Core keeps one schema for both; `SCHEMA_VERSION` and `MIGRATIONS` version it.
Texts can be pruned after a while; fingerprints and signatures stay, so what was
digested once is recognised for good.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import numpy as np
from sqlalchemy import (
    Column, Date, DateTime, Integer, LargeBinary, MetaData, String, Table, Text, create_engine, delete,
    bindparam, event, func, insert, select, update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from tasks.models import Attribution, Block, Dispatch, Failure

SCHEMA_VERSION = 2
metadata = MetaData()

schema = Table("schema_version", metadata, Column("version", Integer, primary_key=True))
dispatches = Table(
    "dispatches", metadata,
    Column("id", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("url", Text),
    Column("title", Text),
    Column("published", DateTime(timezone=True)),
    Column("language", String(8), nullable=False),
    Column("first_seen", Date, nullable=False, index=True),
    Column("digest_date", Date, index=True),  # the digest it appeared in
    Column("blocks", Text),  # JSON; NULL once pruned
    Column("copies", Text, nullable=False, default="[]"),
    Column("signature", LargeBinary, nullable=False),  # MinHash of its 5-shingles
    Column("stored_at", DateTime(timezone=True), nullable=False),
)
validators = Table(
    "feed_validators", metadata,
    Column("url", Text, primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
)
digests = Table(
    "digests", metadata,
    Column("day", Date, primary_key=True),
    Column("stories", Integer, nullable=False),
    Column("content", Text, nullable=False),  # the digest's JSON
    Column("written_at", DateTime(timezone=True), nullable=False),
)
deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("message_id", Text),
    Column("sent_at", DateTime(timezone=True), nullable=False),  # a resend is one more row
)
runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),
    Column("dispatches_read", Integer, nullable=False, default=0),
    Column("dispatches_kept", Integer, nullable=False, default=0),
    Column("stories", Integer, nullable=False, default=0),
    Column("failures", Text, nullable=False, default="[]"),
    # The process running it, so that a run killed before it could say so is not shown as running.
    Column("host", String(255)),
    Column("pid", Integer),
)

# version -> statements that bring the previous version to it.
MIGRATIONS: dict[int, list[str]] = {
    2: ["ALTER TABLE runs ADD COLUMN host VARCHAR(255)", "ALTER TABLE runs ADD COLUMN pid INTEGER"],
}


class StoreError(RuntimeError):
    """The store cannot be used (unreachable, read-only, newer schema); the message says which."""


@dataclass(frozen=True)
class Seen:
    """A dispatch used in an earlier digest: enough to recognise it again."""

    id: str
    title: str | None
    digest_date: date
    signature: np.ndarray


def now() -> datetime:
    return datetime.now(timezone.utc)


def store_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'digest.sqlite3').resolve()}"


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> "Store":
        """Connect and create or migrate the schema; SQLite files get WAL mode and a busy timeout."""
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        # Every later error names the store as well: a read-only SQLite file failed the run with a
        # bare "(sqlite3.OperationalError) attempt to write a readonly database" and the SQL.
        event.listen(engine, "handle_error", _named_error)
        try:
            metadata.create_all(engine)
            _migrate(engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"store {engine.url.render_as_string(hide_password=True)}: {_first_line(exc)}") from None
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # Feed validators (conditional GET)
    def validators(self) -> dict[str, dict[str, str]]:
        with self.engine.connect() as db:
            return {row.url: {k: v for k, v in (("etag", row.etag), ("last_modified", row.last_modified)) if v}
                    for row in db.execute(select(validators))}

    def save_validators(self, values: dict[str, dict[str, str]]) -> None:
        with self.engine.begin() as db:
            for url, known in values.items():
                db.execute(delete(validators).where(validators.c.url == url))
                db.execute(insert(validators).values(url=url, etag=known.get("etag"),
                                                     last_modified=known.get("last_modified")))

    # Dispatches
    def record(self, items: Iterable[tuple[Dispatch, np.ndarray]], day: date) -> None:
        """Store dispatches first seen now; a dispatch stored before keeps its first day. Rows go in
        batches (a statement a row cost ~1 ms each: 10,000 dispatches a day)."""
        rows = {dispatch.id: _row(dispatch, signature) for dispatch, signature in items}
        with self.engine.begin() as db:
            known = {found for chunk in _chunks(list(rows), 500)
                     for found in db.execute(select(dispatches.c.id).where(dispatches.c.id.in_(chunk))).scalars()}
            new = [{"id": id_, **row, "first_seen": day, "stored_at": now()} for id_, row in rows.items()
                   if id_ not in known]
            changed = [{"stored_id": id_, **row} for id_, row in rows.items() if id_ in known]
            if new:
                db.execute(insert(dispatches), new)
            if changed:
                db.execute(update(dispatches).where(dispatches.c.id == bindparam("stored_id")), changed)

    def first_seen_on(self, day: date) -> list[Dispatch]:
        """Dispatches first seen for `day` and not digested on another day (to finish an interrupted run)."""
        query = select(dispatches).where(
            dispatches.c.first_seen == day, dispatches.c.blocks.is_not(None),
            (dispatches.c.digest_date.is_(None)) | (dispatches.c.digest_date == day),
        ).order_by(dispatches.c.id)
        with self.engine.connect() as db:
            return [_dispatch(row) for row in db.execute(query)]

    def digested_before(self, day: date, days: int) -> list[Seen]:
        query = select(dispatches.c.id, dispatches.c.title, dispatches.c.digest_date, dispatches.c.signature).where(
            dispatches.c.digest_date < day, dispatches.c.digest_date >= day - timedelta(days=days))
        with self.engine.connect() as db:
            return [Seen(r.id, r.title, r.digest_date, np.frombuffer(r.signature, dtype=np.uint64))
                    for r in db.execute(query.order_by(dispatches.c.id))]

    # Digests, deliveries, runs
    def save_digest(self, day: date, stories: int, content: str, dispatch_ids: list[str]) -> None:
        """The digest and the dispatches it used, in one transaction."""
        with self.engine.begin() as db:
            db.execute(delete(digests).where(digests.c.day == day))
            db.execute(insert(digests).values(day=day, stories=stories, content=content, written_at=now()))
            db.execute(update(dispatches).where(dispatches.c.digest_date == day).values(digest_date=None))
            for chunk in _chunks(dispatch_ids, 500):
                db.execute(update(dispatches).where(dispatches.c.id.in_(chunk)).values(digest_date=day))

    def digest(self, day: date) -> str | None:
        with self.engine.connect() as db:
            return db.execute(select(digests.c.content).where(digests.c.day == day)).scalar()

    def delivered(self, day: date, channel: str) -> list[str]:
        """Recipients a digest was already sent to."""
        with self.engine.connect() as db:
            rows = db.execute(select(deliveries.c.recipients).where(deliveries.c.day == day,
                                                                     deliveries.c.channel == channel))
            return [r for row in rows for r in json.loads(row.recipients)]

    def record_delivery(self, day: date, channel: str, recipients: list[str], message_id: str | None) -> None:
        with self.engine.begin() as db:
            db.execute(insert(deliveries).values(day=day, channel=channel, recipients=json.dumps(sorted(recipients)),
                                                 message_id=message_id, sent_at=now()))

    def start_run(self, day: date) -> int:
        with self.engine.begin() as db:
            return db.execute(insert(runs).values(day=day, started_at=now(), status="running", host=socket.gethostname(),
                                                  pid=os.getpid())).inserted_primary_key[0]

    def finish_run(self, run_id: int, status: str, read: int = 0, kept: int = 0, stories: int = 0,
                   failures: list[Failure] = ()) -> None:
        with self.engine.begin() as db:
            db.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=now(), status=status, dispatches_read=read, dispatches_kept=kept, stories=stories,
                failures=json.dumps([asdict(f) for f in failures], ensure_ascii=False)))

    def history(self, limit: int = 20) -> list[dict]:
        """The latest runs, newest first; one still marked running whose process is gone is "interrupted"."""
        query = select(runs, digests.c.stories.label("digest_stories"), digests.c.written_at).join(
            digests, digests.c.day == runs.c.day, isouter=True).order_by(runs.c.id.desc()).limit(limit)
        with self.engine.connect() as db:
            rows = [dict(row._mapping) for row in db.execute(query)]
        for row in rows:
            if row["status"] == "running" and _process_gone(row["host"], row["pid"]):
                row["status"] = "interrupted"
        return rows

    def forget(self, day: date | None = None, source: str | None = None) -> dict[str, int]:
        """Reset state so a day (or a source) is rebuilt: its dispatches, digest and deliveries."""
        counts = {}
        with self.engine.begin() as db:
            if day is not None:
                counts["dispatches"] = db.execute(delete(dispatches).where(
                    (dispatches.c.first_seen == day) | (dispatches.c.digest_date == day))).rowcount
                counts["digests"] = db.execute(delete(digests).where(digests.c.day == day)).rowcount
                counts["deliveries"] = db.execute(delete(deliveries).where(deliveries.c.day == day)).rowcount
            if source is not None:
                counts["dispatches"] = counts.get("dispatches", 0) + db.execute(
                    delete(dispatches).where(dispatches.c.source == source)).rowcount
        return counts

    def prune(self, older_than_days: int, today: date) -> int:
        """Drop the texts of dispatches first seen long ago; fingerprints and signatures stay."""
        limit = today - timedelta(days=older_than_days)
        with self.engine.begin() as db:
            return db.execute(update(dispatches).where(dispatches.c.first_seen < limit,
                                                       dispatches.c.blocks.is_not(None)).values(blocks=None)).rowcount

    def count(self, table: str) -> int:
        with self.engine.connect() as db:
            return db.execute(select(func.count()).select_from(metadata.tables[table])).scalar()


def _process_gone(host: str | None, pid: int | None) -> bool:
    """True when a run's process, on this host, no longer exists (killed, or the machine restarted).
    Another host's runs (a shared PostgreSQL store) cannot be checked from here."""
    if host != socket.gethostname() or pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # another user's process
    return False


def _row(dispatch: Dispatch, signature: np.ndarray) -> dict:
    return {
        "source": dispatch.source, "location": dispatch.location, "url": dispatch.url, "title": dispatch.title,
        "published": dispatch.published, "language": dispatch.language,
        "blocks": json.dumps([[b.heading, list(b.sentences)] for b in dispatch.blocks], ensure_ascii=False),
        "copies": json.dumps([asdict(c) for c in dispatch.copies], ensure_ascii=False),
        "signature": signature.astype(np.uint64).tobytes(),
    }


def _dispatch(row) -> Dispatch:
    published = row.published
    if published is not None and published.tzinfo is None:  # SQLite returns naive UTC
        published = published.replace(tzinfo=timezone.utc)
    return Dispatch(
        id=row.id, source=row.source, location=row.location, url=row.url, title=row.title, published=published,
        language=row.language,
        blocks=tuple(Block(tuple(sentences), heading) for heading, sentences in json.loads(row.blocks)),
        copies=tuple(Attribution(**c) for c in json.loads(row.copies)),
    )


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _migrate(engine: Engine) -> None:
    with engine.begin() as db:
        version = db.execute(select(func.max(schema.c.version))).scalar()
        if version is None:
            db.execute(insert(schema).values(version=SCHEMA_VERSION))
            return
        if version > SCHEMA_VERSION:
            raise StoreError(f"the store's schema is version {version}, newer than this program's {SCHEMA_VERSION}")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                db.exec_driver_sql(statement)
            db.execute(insert(schema).values(version=target))


def _named_error(context) -> None:
    """SQLAlchemy's handle_error hook: the error as a StoreError naming the store (password hidden)."""
    if context.is_disconnect or getattr(context, "is_pre_ping", False):
        return  # the pool's own reconnection handles these
    url = context.engine.url.render_as_string(hide_password=True) if context.engine else "store"
    raise StoreError(f"store {url}: {_first_line(context.original_exception)}")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
