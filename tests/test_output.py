from datetime import date

import pytest

from tasks.output import write_atomic, write_digest


def test_write_digest_writes_each_format(tmp_path):
    paths = write_digest({"md": "# é", "json": "{}"}, tmp_path / "out", date(2026, 11, 27))
    assert [p.name for p in paths] == ["2026-11-27.md", "2026-11-27.json"]
    assert paths[0].read_text(encoding="utf-8") == "# é"


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "2026-11-27.md"
    write_atomic(target, "complete digest")

    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # not text: fails while writing
    assert target.read_text() == "complete digest"
    assert [p.name for p in tmp_path.iterdir()] == ["2026-11-27.md"]


def test_digest_files_get_the_umask_s_mode_not_mkstemp_s_private_one(tmp_path):
    from tasks.output import FILE_MODE

    write_atomic(tmp_path / "2026-11-27.html", "<p>x</p>")
    assert (tmp_path / "2026-11-27.html").stat().st_mode & 0o777 == FILE_MODE
