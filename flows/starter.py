"""`digest init`: a commented starter configuration and the sample dispatches it reads."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

from tasks.errors import OutputError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
STARTER = files("tasks") / "templates" / "starter.toml"


class StarterExists(OutputError):
    """The folder has a configuration already; `digest init --force` overwrites it."""


def write_starter(folder: Path, force: bool = False) -> list[Path]:
    """Write FOLDER/config/digest.toml, and FOLDER/samples when missing; the paths written."""
    config = folder / "config" / "digest.toml"
    if config.exists() and not force:
        raise StarterExists(f"{config} exists; `digest init --force` overwrites it")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
    written = [config]
    samples = folder / "samples"  # the starter's `files` source, so the first run works offline
    if not samples.exists() and SAMPLES.is_dir():  # not in an installed wheel: check then says so
        shutil.copytree(SAMPLES, samples)
        written.append(samples)
    return written
