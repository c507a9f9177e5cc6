"""The store on SQLite always, and on PostgreSQL when DIGEST_TEST_POSTGRES_URL is set (.ci/run sets it)."""

import os
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pytest

from tasks.dedup import DedupOptions, DocumentPrint, dedup_history
from tasks.models import Failure
from tasks.store import SCHEMA_VERSION, Store, StoreError, metadata, schema, store_url
from tests.conftest import ROOT
from tests.helpers import make_dispatch

DAY = date(2026, 11, 27)
TEXT = ("Le Sénat a adopté jeudi soir en première lecture le projet de budget de la Sécurité sociale pour 2027. "
        "Les sénateurs ont supprimé l’article qui doublait les franchises médicales, une mesure jugée injuste. "
        "Le texte doit désormais être examiné en commission mixte paritaire avec les députés.")


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


def _record(store, dispatch, day):
    store.record([(dispatch, DocumentPrint.of(dispatch).packed())], day)


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


def test_a_run_whose_process_died_shows_as_interrupted(store):
    url = store.engine.url.render_as_string(hide_password=False)
    killed = ("import os, signal, sys\nfrom datetime import date\nfrom tasks.store import Store\n"
              "Store.open(sys.argv[1]).start_run(date(2026, 11, 27))\nos.kill(os.getpid(), signal.SIGKILL)")
    process = subprocess.run([sys.executable, "-c", killed, url], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert process.returncode == -9, process.stderr
    store.start_run(DAY)  # this process: alive
    assert [row["status"] for row in store.history()] == ["running", "interrupted"]


def test_record_is_idempotent_and_keeps_the_first_day(store):
    dispatch = make_dispatch(TEXT, outlet="AFP", title="Budget", published="2026-11-27T18:00:00Z", language="fr")
    _record(store, dispatch, DAY)
    _record(store, dispatch, DAY + timedelta(days=1))
    assert store.count("dispatches") == 1
    [back] = store.first_seen_on(DAY)
    assert back == dispatch  # blocks, language, published (time zone) and copies survive the round trip
    assert store.first_seen_on(DAY + timedelta(days=1)) == []


def test_digest_marks_its_dispatches_and_history_finds_them(store):
    dispatch = make_dispatch(TEXT, outlet="AFP", title="Budget", language="fr")
    _record(store, dispatch, DAY)
    store.save_digest(DAY, 1, '{"date": "2026-11-27"}', [dispatch.id])
    store.save_digest(DAY, 1, '{"date": "2026-11-27", "again": true}', [dispatch.id])  # a re-run replaces
    assert store.count("digests") == 1 and '"again"' in store.digest(DAY)
    assert store.first_seen_on(DAY) == [dispatch]  # a re-run of the day finds it again
    [seen] = store.digested_before(DAY + timedelta(days=1), days=7)
    assert seen.id == dispatch.id and seen.digest_date == DAY
    assert store.digested_before(DAY + timedelta(days=9), days=7) == []

    tomorrow = DAY + timedelta(days=1)
    same = make_dispatch(TEXT, outlet="Le Figaro", title="Budget : le Sénat dit oui", language="fr")
    reworded = make_dispatch(TEXT.replace("Le Sénat a adopté", "Les sénateurs ont voté"), outlet="Ouest-France", language="fr")
    update = make_dispatch(TEXT + " Le gouvernement table sur un déficit ramené à 16 milliards d’euros l’an prochain, "
                           "a indiqué vendredi la ministre, qui promet un nouveau texte sur les hôpitaux avant l’été "
                           "et une réforme du financement des Ehpad dès janvier.", outlet="AFP", language="fr")
    kept, removals = dedup_history([same, reworded, update], store.digested_before(tomorrow, 7), DedupOptions())
    assert kept == [update]
    assert {r.dispatch_id for r in removals} == {same.id, reworded.id}
    assert all(r.level == "history" and r.reason == "already in the digest of 2026-11-27" for r in removals)


def test_validators_deliveries_runs_and_history(store):
    store.save_validators({"https://x.example/feed": {"etag": '"v1"'}})
    store.save_validators({"https://x.example/feed": {"etag": '"v2"', "last_modified": "Fri, 27 Nov 2026 08:00:00 GMT"}})
    assert store.validators() == {"https://x.example/feed": {"etag": '"v2"', "last_modified": "Fri, 27 Nov 2026 08:00:00 GMT"}}
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
    new = make_dispatch("Le Rhône est monté de plus de deux mètres en vingt-quatre heures, la préfecture ferme les quais.",
                        outlet="Le Progrès", language="fr")
    _record(store, old, DAY - timedelta(days=100))
    _record(store, new, DAY)
    store.save_digest(DAY - timedelta(days=100), 1, "{}", [old.id])
    assert store.prune(90, DAY) == 1
    assert store.prune(90, DAY) == 0
    seen = store.digested_before(DAY - timedelta(days=99), 7)
    assert [s.id for s in seen] == [old.id] and isinstance(seen[0].signature, np.ndarray)  # fingerprints stay
    assert store.first_seen_on(DAY - timedelta(days=100)) == []  # the text is gone
    assert store.forget(source="Le Progrès") == {"dispatches": 1}
    assert store.forget(day=DAY - timedelta(days=100)) == {"dispatches": 1, "digests": 1, "deliveries": 0}
    assert store.count("dispatches") == 0


def test_unusable_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="store sqlite:///"):
        folder = tmp_path / "ro"
        folder.mkdir()
        (folder / "digest.sqlite3").write_text("not a database")
        Store.open(store_url(folder))
