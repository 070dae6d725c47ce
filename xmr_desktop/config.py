"""Every path and tunable of xmr_desktop in one place.

The per-user directories come from platformdirs; ``XMR_DATA_DIR`` (or ``--data-dir``) moves all of them under
one folder, which is what tests, portable installs and benchmarks use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "xmr_desktop"
DATA_DIR_ENV = "XMR_DATA_DIR"
MODEL_ENV = "XMR_MODEL"

# Largest image we agree to decode; Pillow's own guard is per-process global state, ours is explicit.
MAX_IMAGE_PIXELS = 120_000_000
# Larger files are not photos we can show; reading them whole to hash them would stall the indexer.
MAX_FILE_BYTES = 512 * 2**20
INDEX_BATCH_SIZE = 16
# Decoded photos waiting for the model (float32 pixels: 0.75 MiB each at 256 px). Deep enough to keep the
# decoders busy through the model's start-up, which takes seconds and mostly one core.
DECODE_AHEAD_BYTES = 128 * 2**20
# A photo whose decode takes longer than this is skipped with a reason instead of holding up the run.
DECODE_DEADLINE_S = 60.0

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file marks xmr_desktop's thumbnail cache; backup tools may skip this folder.\n"
)


@dataclass(frozen=True)
class Paths:
    """Where xmr_desktop keeps its files.

    Attributes:
        data_dir: the index database and downloaded models.
        cache_dir: thumbnails; safe to delete.
        log_dir: rotating log files.
        config_dir: user settings.
    """

    data_dir: Path
    cache_dir: Path
    log_dir: Path
    config_dir: Path

    @property
    def index_db(self) -> Path:
        return self.data_dir / "index.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def thumbnails_dir(self) -> Path:
        return self.cache_dir / "thumbnails"

    def ensure(self) -> "Paths":
        """Create the directories private to the user (0700) and tag the cache for backup tools."""
        for directory in (self.data_dir, self.cache_dir, self.log_dir, self.config_dir, self.models_dir):
            make_private_dir(directory)
        tag = self.cache_dir / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text(_CACHEDIR_TAG, encoding="ascii")
        return self


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) readable only by the user; tighten it if it already exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def resolve_paths(data_dir: str | os.PathLike[str] | None = None) -> Paths:
    """The directories to use: ``data_dir`` if given, else ``$XMR_DATA_DIR``, else the platform's user dirs."""
    override = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if override is not None:
        root = Path(override).expanduser().resolve()
        return Paths(data_dir=root, cache_dir=root / "cache", log_dir=root / "logs", config_dir=root / "config")
    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
    )
