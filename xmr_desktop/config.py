"""Every path and tunable of xmr_desktop in one place.

The per-user directories come from platformdirs; ``XMR_DATA_DIR`` (or ``--data-dir``) moves all of them under
one folder, which is what tests, portable installs and benchmarks use.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from xmr_desktop.errors import DataDirError

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
        """Create the missing directories, readable only by the user (0700), and tag the cache for backup tools.

        Directories that already exist keep their permissions (a shared ``--data-dir`` keeps its group bits
        and setgid). Raises DataDirError (one line: which folder, why, what to do) when one cannot be made.
        """
        for directory in (self.data_dir, self.cache_dir, self.log_dir, self.config_dir, self.models_dir):
            try:
                make_private_dir(directory)
            except OSError as error:
                raise DataDirError(_cannot_create(directory, error)) from error
        tag = self.cache_dir / "CACHEDIR.TAG"
        try:
            if not tag.exists():
                write_private_file(tag, _CACHEDIR_TAG.encode("ascii"))
        except OSError as error:
            raise DataDirError(_cannot_create(self.cache_dir, error)) from error
        return self


def _cannot_create(directory: Path, error: OSError) -> str:
    return (
        f"cannot use {directory} for xmr's data: {error.strerror or error}; "
        f"choose a folder you can write with --data-dir DIR or {DATA_DIR_ENV}"
    )


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700; directories that exist are left as they are."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            # 0700 from the start (a chmod after mkdir would leave a window), whatever the umask adds.
            os.mkdir(directory, 0o700)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue


PRIVATE_FILE_MODE = 0o600


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True if it was created here.

    For files another library then writes: SQLite gives a database's -wal and -shm files the mode of the
    database file, so calling this before the first ``sqlite3.connect`` makes all three private.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0), PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a file created (or truncated) with mode 0600 if new."""
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | getattr(os, "O_BINARY", 0), PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def is_private(path: Path) -> bool:
    """Whether only the owner can read ``path`` (for tests and ``xmr status``)."""
    return not stat.S_IMODE(path.stat().st_mode) & 0o077


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
