import json
from datetime import UTC, datetime

from tasks.sources import SourceSpec, load_file
from tests.helpers import load_all


def test_text_dispatch_metadata_lines_and_date_sharing_a_line(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(" date 2025-08-19 Mark Rutte (Photo AFP)\n\nBody sentence here.\n", encoding="utf-8")
    [raw] = load_file(path, "desk")
    assert raw.published == datetime(2025, 8, 19, tzinfo=UTC)
    assert raw.body.startswith("Mark Rutte (Photo AFP)")
    assert raw.source == "desk" and raw.outlet is None

    path.write_text("date: 2026-01-02T08:30:00+01:00\ntitle: A title\nsource: AFP\nurl: https://x.example/a\nText.\n")
    [raw] = load_file(path, "desk")
    assert (raw.title, raw.outlet, raw.url, raw.body) == ("A title", "AFP", "https://x.example/a", "Text.\n")
    assert raw.published.utcoffset().total_seconds() == 3600


def test_json_and_jsonl_records(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps({"title": "T", "html": "<p>x</p>", "source": "AP"}))
    (tmp_path / "many.jsonl").write_text(
        json.dumps({"text": "first", "published": "2026-11-27"}) + "\n\n" + json.dumps({"text": "second"}) + "\n"
    )
    raws, failures = load_all(SourceSpec(name="folder", path=tmp_path))
    assert failures == []
    by_body = {r.body: r for r in raws}
    assert by_body["<p>x</p>"].kind == "html" and by_body["<p>x</p>"].outlet == "AP"
    assert by_body["first"].published.date().isoformat() == "2026-11-27"
    assert by_body["second"].location.endswith("many.jsonl#3")


def test_bad_files_are_failures_naming_file_and_reason(tmp_path):
    (tmp_path / "good.txt").write_text("A good dispatch.")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "empty.json").write_text(json.dumps({"title": "no body"}))
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    raws, failures = load_all(SourceSpec(name="desk", path=tmp_path))
    assert [r.body for r in raws] == ["A good dispatch."]
    reasons = {f.location.rsplit("/", 1)[-1]: f.reason for f in failures}
    assert set(reasons) == {"broken.json", "empty.json", "latin1.txt"}
    assert "neither 'text' nor 'html'" in reasons["empty.json"]
    assert all(f.source == "desk" for f in failures)


def test_missing_path_and_empty_folder(tmp_path):
    _, failures = load_all(SourceSpec(name="gone", path=tmp_path / "nope"))
    assert failures[0].reason == "path does not exist"
    _, failures = load_all(SourceSpec(name="empty", path=tmp_path))
    assert "holds no" in failures[0].reason


def test_email_dispatch(tmp_path):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Agence Presse <alertes@agence.example>"
    message["Subject"] = "Alerte : le Sénat adopte le budget"
    message["Date"] = "Fri, 27 Nov 2026 18:05:00 +0100"
    message.set_content("Le Sénat a adopté le budget.")
    message.add_alternative("<p>Le Sénat a adopté le <b>budget</b>.</p>", subtype="html")
    (tmp_path / "alert.eml").write_bytes(bytes(message))
    [raw] = load_file(tmp_path / "alert.eml", "mail")
    assert raw.kind == "html" and "<b>budget</b>" in raw.body
    assert (raw.title, raw.outlet) == ("Alerte : le Sénat adopte le budget", "Agence Presse")
    assert raw.published.isoformat() == "2026-11-27T18:05:00+01:00"
