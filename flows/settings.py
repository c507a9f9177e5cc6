"""Settings: parsed once from TOML with pydantic, then passed to the stages."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tasks.clean import CleaningRules
from tasks.cluster import ClusterOptions
from tasks.dedup import DedupOptions
from tasks.sources import SourceSpec
from tasks.summarise import SummaryOptions

DEFAULT_CONFIG = Path("config/digest.toml")


class ConfigError(Exception):
    """A configuration problem, worded for the user: file, key, what is wrong."""


class DigestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = "Dispatch Digest"
    language: Literal["auto", "fr", "en"] = Field("auto", description="language of the digest's labels")
    out_dir: Path = Field(Path("digests"), description="where digests are written, relative to the working folder")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: DigestSettings = DigestSettings()
    sources: list[SourceSpec] = Field(min_length=1)
    cleaning: CleaningRules = CleaningRules()
    dedup: DedupOptions = DedupOptions()
    cluster: ClusterOptions = ClusterOptions()
    summary: SummaryOptions = SummaryOptions()


def load_settings(path: Path | str) -> Settings:
    """Settings from a TOML file; source paths are relative to the file's folder."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for source in data.get("sources", []):
        if isinstance(source, dict) and "path" in source:
            source["path"] = str((path.parent / source["path"]).resolve())
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(path, error) for error in exc.errors())) from None


def _describe(path: Path, error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{path}: {key}: unknown key (remove it or check its spelling)"
    return f"{path}: {key}: {error['msg']}"
