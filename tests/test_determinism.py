"""A re-run of the same day gives byte-identical files, whatever the process's hash seed (issue 17, point 7)."""

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES
from tests.helpers import DIGEST

pytestmark = pytest.mark.prefect

WORDS = (
    "harbour council budget workers strike container terminal minister railway station bridge river flood "
    "school teachers parliament election museum festival theatre orchestra farmers market hospital nurses "
    "airport runway forest wildfire village mayor"
).split()


def _ties(count: int) -> str:
    """Dispatches whose third sentence repeats its first two exactly as much: which one it repeats is a tie."""
    lines = []
    for n in range(count):
        chosen = random.Random(n).sample(WORDS, 20)
        first, second = " ".join(chosen[:10]), " ".join(chosen[10:])
        text = f"{first.capitalize()}.\n\n{second.capitalize()}.\n\n{first.capitalize()} {second}."
        lines.append(
            json.dumps(
                {
                    "title": f"Dispatch {chosen[0]} {chosen[1]} {chosen[2]}",
                    "text": text,
                    "source": f"Outlet {n}",
                    "url": f"https://example.org/{n}",
                }
            )
        )
    return "\n".join(lines) + "\n"


def _run(tmp_path: Path, name: str, seed: str) -> Path:
    """`digest run` in a fresh process with the hash seed `seed`; the folder of its digest."""
    import prefect.settings

    env = {**os.environ, "PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value(), "PYTHONHASHSEED": seed}
    out = tmp_path / name
    places = ["--data-dir", str(out / "data"), "--out", str(out)]
    run = subprocess.run(
        [*DIGEST, "run", "--config", str(tmp_path / "digest.toml"), "--date", "2026-11-27", *places],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def test_a_rerun_in_another_process_gives_the_same_bytes(prefect_api, tmp_path):
    (tmp_path / "ties").mkdir()
    (tmp_path / "ties" / "ties.jsonl").write_text(_ties(10), encoding="utf-8")
    (tmp_path / "digest.toml").write_text(
        f'[digest]\nmax_stories = 3\n\n[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n\n[[sources]]\nname = "ties"\npath = "{tmp_path / "ties"}"\n',
        encoding="utf-8",
    )
    first, second = _run(tmp_path, "first", "1"), _run(tmp_path, "second", "2")
    report = json.loads((first / "2026-11-27.json").read_text(encoding="utf-8"))["report"]
    assert sum(r["reason"] == "already said in this dispatch" for r in report["removals"]) >= 10
    assert len(json.loads((first / "2026-11-27.json").read_text(encoding="utf-8"))["stories"]) > 3
    assert "## Also today" in (first / "2026-11-27.md").read_text(encoding="utf-8")  # digest.max_stories = 3
    for name in ("2026-11-27.md", "2026-11-27.html", "2026-11-27.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
