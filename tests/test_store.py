"""The store on SQLite always, and on PostgreSQL when DIGEST_TEST_POSTGRES_URL is set (.ci/run sets it)."""

import os
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pytest

from tasks.dedup import DedupOptions, DocumentPrint, dedup_history
from tasks.models import Failure
from tasks.store import SCHEMA_VERSION, Store, StoreBusy, StoreError, metadata, schema, store_url
from tests.conftest import ROOT
from tests.helpers import make_dispatch

DAY = date(2026, 11, 27)
TEXT = (
    "Le Sénat a adopté jeudi soir en première lecture le projet de budget de la Sécurité sociale pour 2027. "
    "Les sénateurs ont supprimé l’article qui doublait les franchises médicales, une mesure jugée injuste. "
    "Le texte doit désormais être examiné en commission mixte paritaire avec les députés."
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = store_url(tmp_path / "data")
    else:
        url = os.environ.get("DIGEST_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("DIGEST_TEST_POSTGRES_URL is not set (scripts/test.sh sets it when it can start PostgreSQL)")
        metadata.drop_all(Store.open(url).engine)
    opened = Store.open(url)
    yield opened
    if request.param == "postgresql":
        metadata.drop_all(opened.engine)
    opened.close()


def _carried(*dispatches):
    return [(dispatch, DocumentPrint.of(dispatch).packed()) for dispatch in dispatches]


def test_schema_is_versioned_and_reopening_is_harmless(store):
    again = Store.open(store.engine.url.render_as_string(hide_password=False))
    with again.engine.connect() as db:
        assert [row.version for row in db.execute(schema.select())] == [SCHEMA_VERSION]


def test_a_version_1_store_gains_the_run_process_columns(tmp_path):
    url = store_url(tmp_path / "data")
    with Store.open(url).engine.begin() as db:  # take it back to version 1
        db.exec_driver_sql("ALTER TABLE runs DROP COLUMN host")
        db.exec_driver_sql("ALTER TABLE runs DROP COLUMN pid")
        db.execute(schema.delete().where(schema.c.version == 2))
        db.execute(schema.insert().values(version=1))
    migrated = Store.open(url)
    migrated.start_run(DAY)
    with migrated.engine.connect() as db:
        assert sorted(row.version for row in db.execute(schema.select())) == [1, 2]
    assert [row["status"] for row in migrated.history()] == ["running"]


@pytest.mark.slow  # processes racing on the store
def test_a_run_whose_process_died_shows_as_interrupted(store):
    url = store.engine.url.render_as_string(hide_password=False)
    killed = (
        "import os, signal, sys\nfrom datetime import date\nfrom tasks.store import Store\n"
        "Store.open(sys.argv[1]).start_run(date(2026, 11, 27))\nos.kill(os.getpid(), signal.SIGKILL)"
    )
    process = subprocess.run([sys.executable, "-c", killed, url], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert process.returncode == -9, process.stderr
    store.start_run(DAY)  # this process: alive
    assert [row["status"] for row in store.history()] == ["running", "interrupted"]


def test_record_is_idempotent_and_keeps_the_first_day(store):
    dispatch = make_dispatch(TEXT, outlet="AFP", title="Budget", published="2026-11-27T18:00:00Z", language="fr")
    store.save_digest(DAY, 1, "{}", _carried(dispatch))
    store.save_digest(DAY + timedelta(days=1), 1, "{}", _carried(dispatch))
    assert store.count("dispatches") == 1
    [back] = store.first_seen_on(DAY)
    assert back == dispatch  # blocks, language, published (time zone) and copies survive the round trip
    assert store.first_seen_on(DAY + timedelta(days=1)) == []


def test_digest_marks_its_dispatches_and_history_finds_them(store):
    dispatch = make_dispatch(TEXT, outlet="AFP", title="Budget", language="fr")
    store.save_digest(DAY, 1, '{"date": "2026-11-27"}', _carried(dispatch))
    store.save_digest(DAY, 1, '{"date": "2026-11-27", "again": true}', _carried(dispatch))  # a re-run replaces
    assert store.count("digests") == 1 and '"again"' in store.digest(DAY)
    assert store.first_seen_on(DAY) == [dispatch]  # a re-run of the day finds it again
    [seen] = store.digested_around(DAY + timedelta(days=1), days=7)
    assert seen.id == dispatch.id and seen.digest_date == DAY
    assert store.digested_around(DAY + timedelta(days=9), days=7) == []

    tomorrow = DAY + timedelta(days=1)
    same = make_dispatch(TEXT, outlet="Le Figaro", title="Budget : le Sénat dit oui", language="fr")
    reworded = make_dispatch(
        TEXT.replace("Le Sénat a adopté", "Les sénateurs ont voté"), outlet="Ouest-France", language="fr"
    )
    update = make_dispatch(
        TEXT + " Le gouvernement table sur un déficit ramené à 16 milliards d’euros l’an prochain, "
        "a indiqué vendredi la ministre, qui promet un nouveau texte sur les hôpitaux avant l’été "
        "et une réforme du financement des Ehpad dès janvier.",
        outlet="AFP",
        language="fr",
    )
    kept, removals = dedup_history([same, reworded, update], store.digested_around(tomorrow, 7), DedupOptions())
    assert kept == [update]
    assert {r.dispatch_id for r in removals} == {same.id, reworded.id}
    assert all(r.level == "history" and r.reason == "already in the digest of 2026-11-27" for r in removals)


def test_validators_deliveries_runs_and_history(store):
    store.save_validators({"https://x.example/feed": {"etag": '"v1"'}})
    store.save_validators(
        {"https://x.example/feed": {"etag": '"v2"', "last_modified": "Fri, 27 Nov 2026 08:00:00 GMT"}}
    )
    assert store.validators() == {
        "https://x.example/feed": {"etag": '"v2"', "last_modified": "Fri, 27 Nov 2026 08:00:00 GMT"}
    }
    store.record_delivery(DAY, "email", ["b@x.example", "a@x.example"], "<id@x>")
    assert store.delivered(DAY, "email") == ["a@x.example", "b@x.example"] and store.delivered(DAY, "other") == []
    run = store.start_run(DAY)
    store.finish_run(run, "completed", 6, 5, 4, [Failure("feed", "https://x.example/feed", "HTTP 404")])
    store.save_digest(DAY, 4, "{}", [])
    [row] = store.history()
    assert (row["status"], row["dispatches_read"], row["digest_stories"]) == ("completed", 6, 4)
    assert "HTTP 404" in row["failures"]


def test_forget_and_prune(store):
    old = make_dispatch(TEXT, outlet="AFP", language="fr")
    new = make_dispatch(
        "Le Rhône est monté de plus de deux mètres en vingt-quatre heures, la préfecture ferme les quais.",
        outlet="Le Progrès",
        language="fr",
    )
    store.save_digest(DAY - timedelta(days=100), 1, "{}", _carried(old))
    store.save_digest(DAY, 1, "{}", _carried(new))
    assert store.prune(90, DAY) == 1
    assert store.prune(90, DAY) == 0
    seen = store.digested_around(DAY - timedelta(days=99), 7)
    assert [s.id for s in seen] == [old.id] and isinstance(seen[0].signature, np.ndarray)  # fingerprints stay
    assert store.first_seen_on(DAY - timedelta(days=100)) == []  # the text is gone
    assert store.forget(source="Le Progrès") == {"dispatches": 1}
    assert store.forget(day=DAY - timedelta(days=100)) == {"dispatches": 1, "digests": 1, "deliveries": 0}
    assert store.count("dispatches") == 0 and store.count("digests") == 1


def test_unusable_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="store sqlite:///"):
        folder = tmp_path / "ro"
        folder.mkdir()
        (folder / "digest.sqlite3").write_text("not a database")
        Store.open(store_url(folder))


def test_a_day_keeps_its_dispatches_when_another_day_carries_them_too(store):
    """Run 11-27, backfill 11-24, re-run 11-27: the re-run finds its dispatches its own, not "already digested"."""
    dispatch = make_dispatch(TEXT, outlet="AFP", title="Budget", language="fr")
    backfilled = DAY - timedelta(days=3)
    store.save_digest(DAY, 1, "{}", _carried(dispatch))
    assert [s.id for s in store.digested_around(backfilled, 7)] == [dispatch.id]  # the backfill does not repeat it
    store.save_digest(backfilled, 1, "{}", _carried(dispatch))  # had it carried it anyway, 11-27 keeps it
    assert store.digested_around(DAY, 7) == []
    assert store.first_seen_on(DAY) == [dispatch]


HOLD_LOCK = (
    "import sys\nfrom tasks.store import Store\nstore = Store.open(sys.argv[1])\n"
    "with store.locked('run for 2026-11-27'):\n    print('locked', flush=True)\n    sys.stdin.readline()\n"
)


def _holding_the_lock(url: str) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, url], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "locked\n"
    return holder


@pytest.mark.slow  # processes racing on the store
def test_one_run_at_a_time_and_forget_waits_for_it(store):
    url = store.engine.url.render_as_string(hide_password=False)
    holder = _holding_the_lock(url)
    try:
        with pytest.raises(StoreBusy, match=r"busy: run for 2026-11-27 \(host .*, pid \d+"):
            with store.locked("run for 2026-11-28", wait=0.5):
                pass
        with pytest.raises(StoreBusy):
            store.forget(day=DAY, wait=0.5)
    finally:
        holder.communicate("done\n", timeout=30)
    with store.locked("run for 2026-11-28", wait=5):  # free once the holder is done
        pass


@pytest.mark.slow  # processes racing on the store
def test_a_killed_holder_frees_the_lock(store):
    holder = _holding_the_lock(store.engine.url.render_as_string(hide_password=False))
    holder.kill()
    holder.wait(timeout=30)
    with store.locked("run for 2026-11-28", wait=30):
        pass


CREATE = (
    "import sys, time\nfrom tasks.store import Store\nstart = float(sys.argv[2])\n"
    "time.sleep(max(0, start - time.time()))\nStore.open(sys.argv[1]).close()\n"
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.slow  # processes racing on the store
def test_first_runs_at_once_on_a_fresh_store_all_open_it(tmp_path, backend):
    import time

    url = store_url(tmp_path / "data") if backend == "sqlite" else os.environ.get("DIGEST_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("DIGEST_TEST_POSTGRES_URL is not set (scripts/test.sh sets it when it can start PostgreSQL)")
    if backend == "postgresql":
        metadata.drop_all(Store.open(url).engine)
    start = time.time() + 3  # after every interpreter has started
    openers = [
        subprocess.Popen([sys.executable, "-c", CREATE, url, str(start)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    errors = [opener.communicate(timeout=120)[1] for opener in openers]
    assert [opener.returncode for opener in openers] == [0] * 6, "\n".join(errors)
    with Store.open(url).engine.connect() as db:
        assert [row.version for row in db.execute(schema.select())] == [SCHEMA_VERSION]


def test_an_empty_store_file_is_refused_unless_new_store(tmp_path):
    url = store_url(tmp_path / "data")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "digest.sqlite3").write_bytes(b"")
    with pytest.raises(StoreError, match="the file is empty .*--new-store"):
        Store.open(url)
    Store.open(url, new_store=True).close()
    Store.open(url).close()  # a store now


@pytest.mark.parametrize(
    "url, reason",
    [
        ("notadialect://x", "not a usable store URL"),
        ("sqlite:///{tmp}/file/digest.sqlite3", "Not a directory|File exists"),
    ],
)
def test_a_bad_store_url_or_folder_is_one_line(tmp_path, url, reason):
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(StoreError, match=reason) as raised:
        Store.open(url.format(tmp=tmp_path))
    assert "\n" not in str(raised.value)
