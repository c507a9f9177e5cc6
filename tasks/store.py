"""The store: dispatches and their fingerprints, feed validators, digests, deliveries and runs.

SQLite (a file, WAL mode) by default; PostgreSQL through a URL for several workers.
SQLAlchemy Core keeps one schema for both; `SCHEMA_VERSION` and `MIGRATIONS` version it.
Texts can be pruned after a while; fingerprints and signatures stay, so what was
digested once is recognised for good.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext, Row, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from tasks.errors import StoreError  # defined there, with the other errors; imported from here too
from tasks.models import Attribution, Block, Dispatch, Failure, RunReport

_T = TypeVar("_T")
SCHEMA_VERSION = 2
metadata = MetaData()

schema = Table("schema_version", metadata, Column("version", Integer, primary_key=True))
dispatches = Table(
    "dispatches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("url", Text),
    Column("title", Text),
    Column("published", DateTime(timezone=True)),
    Column("language", String(8), nullable=False),
    Column("first_seen", Date, nullable=False, index=True),
    # The first digest written that carried it: a later run of another day never takes it over.
    Column("digest_date", Date, index=True),
    Column("blocks", Text),  # JSON; NULL once pruned
    Column("copies", Text, nullable=False, default="[]"),
    # its DocumentPrint (tasks.dedup) packed as uint64s: how many distinct word 5-shingles it has, then the MinHash
    # signatures of all of them and of its opening's (with the count, their Jaccard estimate gives a containment)
    Column("signature", LargeBinary, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
)
validators = Table(
    "feed_validators",
    metadata,
    Column("url", Text, primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
)
digests = Table(
    "digests",
    metadata,
    Column("day", Date, primary_key=True),
    Column("stories", Integer, nullable=False),
    Column("content", Text, nullable=False),  # the digest's JSON
    Column("written_at", DateTime(timezone=True), nullable=False),
)
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("message_id", Text),
    Column("sent_at", DateTime(timezone=True), nullable=False),  # a resend is one more row
)
runs = Table(
    "runs",
    metadata,
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


# How long a run waits for another run (or `forget`) on the same store by default: a day's run takes minutes.
LOCK_WAIT_SECONDS = 900
# PostgreSQL advisory lock key of a store's run lock (any fixed number: one lock per database).
ADVISORY_KEY = 727_364_171


class StoreBusy(StoreError):
    """Another run (or `forget`) held the store for longer than this one could wait."""


@dataclass(frozen=True)
class Seen:
    """A dispatch used in an earlier digest: enough to recognise it again."""

    id: str
    title: str | None
    digest_date: date
    signature: np.ndarray


@dataclass
class RunRecord:
    """A run being recorded (`Store.run`), and what it ends with when nothing raises."""

    id: int
    status: str = "completed"
    report: RunReport = RunReport()
    stories: int = 0

    def finish(self, status: str, report: RunReport, stories: int) -> None:
        self.status, self.report, self.stories = status, report, stories


def now() -> datetime:
    return datetime.now(UTC)


def store_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'digest.sqlite3').resolve()}"


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, new_store: bool = False, lock_wait: float = LOCK_WAIT_SECONDS) -> Store:
        """Connect, and create or migrate the schema under the store's lock (two first runs at once
        both tried to create it); SQLite files get WAL mode and a busy timeout. An existing empty
        SQLite file is refused unless `new_store`: it is more often a store lost than a new one."""
        try:
            store = cls(_engine(url))
            if not store._schema_current():
                with store.locked("schema creation", lock_wait):
                    store._refuse_empty_file(new_store)
                    metadata.create_all(store.engine)
                    _migrate(store.engine)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"store {_safe_url(url)}: {_first_line(exc)}") from None
        return store

    @contextmanager
    def locked(
        self, holder: str, wait: float = LOCK_WAIT_SECONDS, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        """Hold the store's lock: one run (or `forget`) at a time on a store, across processes and
        hosts, so that no two runs record, store or email the same dispatches. Waits `wait` seconds at
        most, then raises StoreBusy naming the holder. The lock dies with its process (flock next to
        a SQLite file, an advisory lock on PostgreSQL's session). `on_wait` hears once whom it waits for."""
        lock = _AdvisoryLock(self.engine) if self.engine.dialect.name == "postgresql" else _FileLock(self.engine)
        deadline = time.monotonic() + wait
        me = f"{holder} (host {socket.gethostname()}, pid {os.getpid()}, since {now():%H:%M:%S} UTC)"
        while not lock.try_acquire(me):
            if on_wait is not None:
                on_wait(lock.holder() or "another run")
                on_wait = None
            if time.monotonic() >= deadline:
                held_by = lock.holder()
                lock.release()
                raise StoreBusy(
                    f"store {_safe_url(self.engine.url)} is busy: {held_by or 'another run'} has held it "
                    f"for more than the {wait:g} s this one may wait (digest.lock_wait)"
                )
            time.sleep(0.2)
        try:
            yield
        finally:
            lock.release()

    def _schema_current(self) -> bool:
        """True when the schema is there at this version (no lock needed); never creates a SQLite file."""
        path = _sqlite_path(self.engine)
        if path is not None and (not path.exists() or path.stat().st_size == 0):
            return False
        try:
            with self.engine.connect() as db:
                return db.execute(select(func.max(schema.c.version))).scalar() == SCHEMA_VERSION
        except StoreError:
            return False  # no schema yet, or a damaged file: the locked path says which

    def _refuse_empty_file(self, new_store: bool) -> None:
        path = _sqlite_path(self.engine)
        if not new_store and path is not None and path.exists() and path.stat().st_size == 0:
            raise StoreError(
                f"store {path}: the file is empty (0 bytes), not a store; a new store would lose "
                "the history of earlier digests. Restore it, or delete it or run with --new-store "
                "to start a new one"
            )

    def close(self) -> None:
        self.engine.dispose()

    # Feed validators (conditional GET)
    def validators(self) -> dict[str, dict[str, str]]:
        with self.engine.connect() as db:
            return {
                row.url: {k: v for k, v in (("etag", row.etag), ("last_modified", row.last_modified)) if v}
                for row in db.execute(select(validators))
            }

    def save_validators(self, values: dict[str, dict[str, str]]) -> None:
        with self.engine.begin() as db:
            for url, known in values.items():
                db.execute(delete(validators).where(validators.c.url == url))
                db.execute(
                    insert(validators).values(url=url, etag=known.get("etag"), last_modified=known.get("last_modified"))
                )

    # Dispatches
    def first_seen_on(self, day: date) -> list[Dispatch]:
        """Dispatches an earlier run of `day` recorded and no other day's digest carried: a re-run of
        the day takes them back, even when its sources no longer list them."""
        query = (
            select(dispatches)
            .where(
                dispatches.c.first_seen == day,
                dispatches.c.blocks.is_not(None),
                (dispatches.c.digest_date.is_(None)) | (dispatches.c.digest_date == day),
            )
            .order_by(dispatches.c.id)
        )
        with self.engine.connect() as db:
            return [_dispatch(row) for row in db.execute(query)]

    def digested_around(self, day: date, days: int) -> list[Seen]:
        """Dispatches another day's digest carried, within `days` of `day` on either side. A later day
        counts too: a backfill of earlier days, or two days run at once, must not send them twice."""
        query = select(dispatches.c.id, dispatches.c.title, dispatches.c.digest_date, dispatches.c.signature).where(
            dispatches.c.digest_date != day,
            dispatches.c.digest_date >= day - timedelta(days=days),
            dispatches.c.digest_date <= day + timedelta(days=days),
        )
        with self.engine.connect() as db:
            return [
                Seen(r.id, r.title, r.digest_date, np.frombuffer(r.signature, dtype=np.uint64))
                for r in db.execute(query.order_by(dispatches.c.id))
            ]

    # Digests, deliveries, runs
    def save_digest(
        self, day: date, stories: int, content: str, carried: Iterable[tuple[Dispatch, np.ndarray]]
    ) -> None:
        """The digest and the dispatches it carried (with their prints), in one transaction: what a
        digest carried is history exactly when the digest is stored. A dispatch belongs to the first
        digest written that carried it, so re-running a day after a backfill of earlier days gives
        the same digest, instead of finding its dispatches "already digested" by the backfill."""
        carried = list(carried)
        with self.engine.begin() as db:
            _record(db, carried, day)
            db.execute(delete(digests).where(digests.c.day == day))
            db.execute(insert(digests).values(day=day, stories=stories, content=content, written_at=now()))
            db.execute(update(dispatches).where(dispatches.c.digest_date == day).values(digest_date=None))
            for chunk in _chunks([dispatch.id for dispatch, _ in carried], 500):
                db.execute(
                    update(dispatches)
                    .where(dispatches.c.id.in_(chunk), dispatches.c.digest_date.is_(None))
                    .values(digest_date=day)
                )

    def stored_stories(self, day: date) -> int | None:
        """How many stories the digest stored for `day` has; None when there is none."""
        with self.engine.connect() as db:
            return db.execute(select(digests.c.stories).where(digests.c.day == day)).scalar()

    def digest(self, day: date) -> str | None:
        with self.engine.connect() as db:
            return db.execute(select(digests.c.content).where(digests.c.day == day)).scalar()

    def delivered(self, day: date, channel: str) -> list[str]:
        """Recipients a digest was already sent to."""
        with self.engine.connect() as db:
            rows = db.execute(
                select(deliveries.c.recipients).where(deliveries.c.day == day, deliveries.c.channel == channel)
            )
            return [r for row in rows for r in json.loads(row.recipients)]

    def record_delivery(self, day: date, channel: str, recipients: list[str], message_id: str | None) -> None:
        with self.engine.begin() as db:
            db.execute(
                insert(deliveries).values(
                    day=day,
                    channel=channel,
                    recipients=json.dumps(sorted(recipients)),
                    message_id=message_id,
                    sent_at=now(),
                )
            )

    @contextmanager
    def run(self, day: date) -> Iterator[RunRecord]:
        """A run of `day` in the runs table, "running" until the block ends: then "failed" when anything
        raised (even after the files were written: a run is never left "running"), else the status and
        counts the block set on the record."""
        record = RunRecord(self.start_run(day))
        try:
            yield record
        except BaseException:
            self.finish_run(record.id, "failed")
            raise
        report = record.report
        self.finish_run(
            record.id, record.status, report.dispatches_read, report.dispatches_kept, record.stories, report.failures
        )

    def start_run(self, day: date) -> int:
        with self.engine.begin() as db:
            key = db.execute(
                insert(runs).values(
                    day=day, started_at=now(), status="running", host=socket.gethostname(), pid=os.getpid()
                )
            ).inserted_primary_key
        assert key is not None  # an insert's
        return int(key[0])

    def finish_run(
        self, run_id: int, status: str, read: int = 0, kept: int = 0, stories: int = 0, failures: Sequence[Failure] = ()
    ) -> None:
        with self.engine.begin() as db:
            db.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    finished_at=now(),
                    status=status,
                    dispatches_read=read,
                    dispatches_kept=kept,
                    stories=stories,
                    failures=json.dumps([asdict(f) for f in failures], ensure_ascii=False),
                )
            )

    def history(self, limit: int = 20) -> list[dict[str, Any]]:  # a runs table row, by column
        """The latest runs, newest first; one still marked running whose process is gone is "interrupted"."""
        query = (
            select(runs, digests.c.stories.label("digest_stories"), digests.c.written_at)
            .join(digests, digests.c.day == runs.c.day, isouter=True)
            .order_by(runs.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as db:
            rows = [dict(row._mapping) for row in db.execute(query)]
        for row in rows:
            if row["status"] == "running" and _process_gone(row["host"], row["pid"]):
                row["status"] = "interrupted"
        return rows

    def forget(
        self, day: date | None = None, source: str | None = None, wait: float = LOCK_WAIT_SECONDS
    ) -> dict[str, int]:
        """Reset state so a day (or a source) is rebuilt: its dispatches, digest and deliveries. Under
        the store's lock: a run in progress would store its digest over what was just forgotten."""
        counts = {}
        with self.locked("forget", wait), self.engine.begin() as db:
            if day is not None:
                counts["dispatches"] = db.execute(
                    delete(dispatches).where((dispatches.c.first_seen == day) | (dispatches.c.digest_date == day))
                ).rowcount
                counts["digests"] = db.execute(delete(digests).where(digests.c.day == day)).rowcount
                counts["deliveries"] = db.execute(delete(deliveries).where(deliveries.c.day == day)).rowcount
            if source is not None:
                counts["dispatches"] = (
                    counts.get("dispatches", 0)
                    + db.execute(delete(dispatches).where(dispatches.c.source == source)).rowcount
                )
        return counts

    def prune(self, older_than_days: int, today: date) -> int:
        """Drop the texts of dispatches first seen long ago; fingerprints and signatures stay."""
        limit = today - timedelta(days=older_than_days)
        with self.engine.begin() as db:
            return db.execute(
                update(dispatches)
                .where(dispatches.c.first_seen < limit, dispatches.c.blocks.is_not(None))
                .values(blocks=None)
            ).rowcount

    def count(self, table: str) -> int:
        with self.engine.connect() as db:
            return cast(int, db.execute(select(func.count()).select_from(metadata.tables[table])).scalar())  # one row


class _FileLock:
    """A SQLite store's lock: flock on a file beside the database (SQLite's own locks last one
    transaction, and a run is many). The holder writes who it is into the file for the message."""

    def __init__(self, engine: Engine):
        path = _sqlite_path(engine)
        if path is None:
            raise StoreError(f"store {_safe_url(engine.url)}: an in-memory store cannot be shared or locked")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)

    def try_acquire(self, holder: str) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, holder.encode(), 0)
        return True

    def holder(self) -> str:
        return os.pread(self.fd, 500, 0).decode(errors="replace").strip()

    def release(self) -> None:
        os.close(self.fd)  # closing the file releases its flock


class _AdvisoryLock:
    """A PostgreSQL store's lock: a session advisory lock on a connection held for the run; the
    holder is named in its connection's application_name, which pg_stat_activity shows."""

    def __init__(self, engine: Engine):
        self.db: Connection = engine.connect()
        self.db.detach()  # out of the pool: closing it ends the session, and so the lock

    def try_acquire(self, holder: str) -> bool:
        self.db.execute(text("SELECT set_config('application_name', :name, false)"), {"name": holder[:63]})
        acquired = self.db.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar()
        self.db.commit()
        return bool(acquired)

    def holder(self) -> str:
        return (
            self.db.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.objid = :key AND l.granted"
                ),
                {"key": ADVISORY_KEY},
            ).scalar()
            or ""
        )

    def release(self) -> None:
        self.db.close()  # ending the session releases its advisory locks


def _engine(url: str) -> Engine:
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(
            f"store {_safe_url(url)}: not a usable store URL ({_first_line(exc)}); "
            "use sqlite:///path/to/file or postgresql+psycopg://user@host/db"
        ) from None
    path = _sqlite_path(engine)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _sqlite_pragmas)
    # Every later error names the store as well: a read-only SQLite file failed the run with a
    # bare "(sqlite3.OperationalError) attempt to write a readonly database" and the SQL.
    event.listen(engine, "handle_error", _named_error)
    return engine


def _sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite store; None for other stores."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(engine.url.database).resolve()


def _safe_url(url: str | URL) -> str:
    """A store URL fit to print: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"://[^/@\s]*@", "://***@", str(url))


def _record(db: Connection, items: Iterable[tuple[Dispatch, np.ndarray]], day: date) -> None:
    """Insert new dispatches, update known ones (keeping their first day). Rows go in batches: a
    statement a row cost ~1 ms each, at 10,000 dispatches a day."""
    rows = {dispatch.id: _row(dispatch, signature) for dispatch, signature in items}
    known = {
        found
        for chunk in _chunks(list(rows), 500)
        for found in db.execute(select(dispatches.c.id).where(dispatches.c.id.in_(chunk))).scalars()
    }
    new = [{"id": id_, **row, "first_seen": day, "stored_at": now()} for id_, row in rows.items() if id_ not in known]
    changed = [{"stored_id": id_, **row} for id_, row in rows.items() if id_ in known]
    if new:
        db.execute(insert(dispatches), new)
    if changed:
        db.execute(update(dispatches).where(dispatches.c.id == bindparam("stored_id")), changed)


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


def _row(dispatch: Dispatch, signature: np.ndarray) -> dict[str, object]:
    return {
        "source": dispatch.source,
        "location": dispatch.location,
        "url": dispatch.url,
        "title": dispatch.title,
        "published": dispatch.published,
        "language": dispatch.language,
        "blocks": json.dumps([[b.heading, list(b.sentences)] for b in dispatch.blocks], ensure_ascii=False),
        "copies": json.dumps([asdict(c) for c in dispatch.copies], ensure_ascii=False),
        "signature": signature.astype(np.uint64).tobytes(),
    }


def _dispatch(row: Row[*tuple[Any, ...]]) -> Dispatch:  # a dispatches table row
    published = row.published
    if published is not None and published.tzinfo is None:  # SQLite returns naive UTC
        published = published.replace(tzinfo=UTC)
    return Dispatch(
        id=row.id,
        source=row.source,
        location=row.location,
        url=row.url,
        title=row.title,
        published=published,
        language=row.language,
        blocks=tuple(Block(tuple(sentences), heading) for heading, sentences in json.loads(row.blocks)),
        copies=tuple(Attribution(**c) for c in json.loads(row.copies)),
    )


def _chunks(items: list[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sqlite_pragmas(connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
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


def _named_error(context: ExceptionContext) -> None:
    """SQLAlchemy's handle_error hook: the error as a StoreError naming the store (password hidden)."""
    if context.is_disconnect or getattr(context, "is_pre_ping", False):
        return  # the pool's own reconnection handles these
    url = _safe_url(context.engine.url) if context.engine else "store"
    raise StoreError(f"store {url}: {_first_line(context.original_exception)}")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
