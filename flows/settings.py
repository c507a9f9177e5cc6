"""Settings: parsed once from TOML with pydantic, then passed to the stages."""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from prefect.client.schemas.schedules import CronSchedule
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from tasks.clean import CleaningRules
from tasks.cluster import ClusterOptions
from tasks.dedup import DedupOptions
from tasks.deliver import EmailSettings, HeaderText
from tasks.errors import ConfigError  # defined there, with the other errors; imported from here too
from tasks.fetch import FetchOptions
from tasks.models import MAX_STORIES
from tasks.render import LABEL_KEYS, safe_url, visible
from tasks.sources import MAX_DAYS, SourceSpec
from tasks.store import LOCK_WAIT_SECONDS, store_url
from tasks.summarise import Algorithm, SummaryOptions

SOURCE_LIST = TypeAdapter(list[SourceSpec])
# Environment variables that override the file (containers, CI, `digest run --store/--data-dir`).
ENVIRONMENT = {
    "DIGEST_STORE_URL": ("digest", "store_url"),
    "DIGEST_DATA_DIR": ("digest", "data_dir"),
    "DIGEST_SMTP_HOST": ("email", "host"),
    "DIGEST_SMTP_PORT": ("email", "port"),
    "DIGEST_SMTP_SECURITY": ("email", "security"),
    "DIGEST_SMTP_USER": ("email", "username"),
    "DIGEST_SMTP_PASSWORD": ("email", "password"),
    "DIGEST_EMAIL_FROM": ("email", "sender"),
    "DIGEST_EMAIL_TO": ("email", "recipients"),
    "DIGEST_ALERTS_TO": ("email", "alerts"),
    "DIGEST_CLEANING_EXECUTOR": ("cleaning", "executor"),  # tcp://dask-scheduler:8786 (docker-compose's dask profile)
}
CRON_FIELDS = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12), "weekday": (0, 7)}
CRON_EXAMPLE = 'write minute hour day month weekday, e.g. "0 6 * * *" for 06:00 every day'


class DigestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: HeaderText = Field("Dispatch Digest", description="the digest's title, also the email's subject")
    language: Literal["auto", "fr", "en"] = Field("auto", description="language of the digest's labels")
    out_dir: Path = Field(Path("digests"), description="where digests are written, relative to the working folder")
    data_dir: Path = Field(Path("data"), description="the default store's folder, relative to the working folder")
    store_url: str | None = Field(
        None, description="SQLAlchemy URL of the store, e.g. postgresql+psycopg://…; default a SQLite file in data_dir"
    )
    select: Literal["first_seen", "published"] = Field(
        "first_seen", description="a day's digest holds dispatches first seen for it, or published on it"
    )
    history_days: int = Field(
        7,
        ge=0,
        le=MAX_DAYS,
        description="days around a digest (before and after) whose digests' dispatches it does not repeat",
    )
    retention_days: int = Field(90, ge=1, le=MAX_DAYS, description="days dispatch texts are kept; fingerprints stay")
    lock_wait: int = Field(
        LOCK_WAIT_SECONDS,
        ge=0,
        le=86_400,
        description="seconds a run waits for another run on the same store before it gives up",
    )
    max_stories: int = Field(
        MAX_STORIES, ge=1, le=10_000, description="stories shown in full; the others are listed as linked headlines"
    )
    labels: dict[str, HeaderText] = Field(
        default_factory=dict, description='the digest\'s words, e.g. report = "Bilan"'
    )
    public_url: str | None = Field(
        None,
        description="the address where the digests folder (out_dir) is published, e.g. "
        "https://desk.example/digests/: the email links the day's page there, the feed (feed.xml) its entries",
    )

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, url: str | None) -> str | None:
        if url is not None and (not re.fullmatch(r"https?://[^\s<>\"'\\]+", url) or safe_url(url) != url):
            raise ValueError(
                f'"{visible(url)}" is not an http(s) address (write it as https://example.org/digests/, '
                "percent-encoding any space or quote)"
            )
        return url

    @field_validator("labels")
    @classmethod
    def _known_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(labels) - set(LABEL_KEYS))
        if unknown:
            raise ValueError(f"unknown label {', '.join(unknown)} (labels are {', '.join(LABEL_KEYS)})")
        return labels

    @property
    def database_url(self) -> str:
        """The store's SQLAlchemy URL (sqlite:///…, postgresql+psycopg://…): `store_url` when set, else that
        of the SQLite file in `data_dir`. Not a config key (the file sets digest.store_url)."""
        return self.store_url or store_url(self.data_dir)


class ScheduleSettings(BaseModel):
    """One deployment of the daily-digest flow, with its schedule and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("daily", min_length=1, pattern=r"^[\w.-]+$")
    cron: str = Field("0 6 * * *", description="minute hour day month weekday")
    timezone: str = Field("UTC", description="IANA time zone of the cron, e.g. Europe/Paris")
    sources: list[str] | None = Field(None, description="names of the config's sources to read; all when unset")
    sentences: int | None = Field(None, ge=1, le=50)
    words: int | None = Field(None, ge=5, le=2000)
    algorithm: Algorithm | None = None
    email: bool = True
    out_dir: str | None = None

    # Prefect's own checks, so what passes here is what `digest serve` can deploy.
    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        fields = cron.split()
        if len(fields) != len(CRON_FIELDS):  # Prefect takes a sixth (seconds): "0 6 * * * *" ran every second
            count = f"{len(fields)} field" + ("s" if len(fields) != 1 else "")
            raise ValueError(f'"{cron}" is not a cron expression: it has {count}, not five; {CRON_EXAMPLE}')
        if not _prefect_accepts(cron=cron):
            raise ValueError(f'"{cron}" is not a cron expression: {_wrong_cron_field(fields)}; {CRON_EXAMPLE}')
        return cron

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, timezone: str) -> str:
        if not _prefect_accepts(cron="0 6 * * *", timezone=timezone):
            raise ValueError(f'"{timezone}" is not an IANA time zone (use a name such as "Europe/Paris" or "UTC")')
        return timezone


def _wrong_cron_field(fields: list[str]) -> str:
    """What is wrong with the first field Prefect refuses alone (the others made `*`)."""
    for n, (name, (low, high)) in enumerate(CRON_FIELDS.items()):
        alone = " ".join(field if i == n else "*" for i, field in enumerate(fields))
        if not _prefect_accepts(cron=alone):
            # numbers not after "/": a step may exceed the range
            outside = [v for v in re.findall(r"(?<![/\d])\d+", fields[n]) if not low <= int(v) <= high]
            if outside:
                return f"{name} {outside[0]} is out of range ({low}-{high})"
            return f'{name} "{fields[n]}" is not a valid field (a number, list, range or step)'
    return "Prefect refuses it"


def _prefect_accepts(**schedule: str) -> bool:
    try:
        CronSchedule(**schedule)
    except ValidationError:
        return False
    return True


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: DigestSettings = DigestSettings()
    schedules: list[ScheduleSettings] = Field(default_factory=lambda: [ScheduleSettings()])
    email: EmailSettings = EmailSettings()
    sources: list[SourceSpec] = Field(min_length=1)
    fetch: FetchOptions = FetchOptions()
    cleaning: CleaningRules = CleaningRules()
    dedup: DedupOptions = DedupOptions()
    cluster: ClusterOptions = ClusterOptions()
    summary: SummaryOptions = SummaryOptions()


def load_settings(path: Path | str) -> Settings:
    """Settings from a TOML file, then the environment; source paths are relative to the file's folder."""
    path = Path(path)
    try:
        data = tomllib.loads(_read(path, "configuration"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    resolve_source_paths(data.get("sources", []), path.parent)
    for (table, key), variable in environment_overrides().items():
        value = os.environ[variable]
        if isinstance(data.setdefault(table, {}), dict):
            data[table][key] = (
                [v.strip() for v in value.split(",") if v.strip()] if key in ("recipients", "alerts") else value
            )
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(*(_describe(path, error) for error in exc.errors())) from None


def load_sources(path: Path | str) -> list[SourceSpec]:
    """A sources file for one run (`digest run --sources`): TOML or JSON with a `sources` list."""
    path = Path(path)
    text = _read(path, "sources")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, list) or not sources:
        raise ConfigError(f"{path}: sources: a non-empty list of sources is required")
    resolve_source_paths(sources, path.parent)
    try:
        return SOURCE_LIST.validate_python(sources)
    except ValidationError as exc:
        raise ConfigError(*(_describe(path, {**e, "loc": ("sources", *e["loc"])}) for e in exc.errors())) from None


def _read(path: Path, what: str) -> str:
    """A settings file's text, or a ConfigError saying why it cannot be parsed as written."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    if text.startswith("\ufeff"):  # TOML and JSON parsers refuse it with an error that does not say so
        raise ConfigError(f"{path}: starts with a byte-order mark (BOM); save it as UTF-8 without a BOM")
    return text


def environment_overrides() -> dict[tuple[str, str], str]:
    """(table, key) of each setting an environment variable overrides now, with the variable."""
    return {place: variable for variable, place in ENVIRONMENT.items() if os.environ.get(variable)}


def origin(path: Path, key: str) -> str:
    """Where the value at `key` (dotted, e.g. email.recipients.1) came from: its variable, else the file."""
    for (table, name), variable in environment_overrides().items():
        if key == f"{table}.{name}" or key.startswith(f"{table}.{name}."):
            return f"{variable} (environment)"
    return str(path)


def resolve_source_paths(sources: list, folder: Path) -> None:
    """Paths in a settings file are relative to that file's folder."""
    for source in sources:
        for key in ("path", "urls_file"):
            if isinstance(source, dict) and isinstance(source.get(key), str):
                source[key] = str((folder / source[key]).resolve())


def _describe(path: Path, error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"])
    where = origin(path, key)
    if error["type"] == "extra_forbidden":
        return f"{where}: {key}: unknown key (remove it or check its spelling)"
    if error["type"] == "missing":
        return f"{where}: {key}: missing (add it; `digest init` writes a commented example)"
    return f"{where}: {key}: {error['msg'].removeprefix('Value error, ')}"
