"""Default locations, in a module light enough for `digest --help` to import (no Prefect, no sumy)."""

from pathlib import Path

DEFAULT_CONFIG = Path("config/digest.toml")
