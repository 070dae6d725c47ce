"""Per-user settings of the desktop app in an ini file under the config dir (folders live in the index)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from xmr_desktop.config import create_private_file
from xmr_desktop.ui.results_model import SortOrder

SETTINGS_FILE = "desktop.ini"
DEFAULT_THUMB_SIZE = 160
DEFAULT_RESULT_LIMIT = 1000
DEFAULT_THUMBNAIL_CACHE_MIB = 512  # thumbnails on disk; the least recently used go beyond it


class AppSettings:
    """Typed access to the settings file.

    Attributes:
        path: the ini file.
    """

    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / SETTINGS_FILE
        with contextlib.suppress(OSError):  # Qt reports an unwritable file its own way
            # 0600 from the start; Qt's atomic save keeps an existing file's permissions.
            create_private_file(self.path)
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def sync(self) -> None:
        self._qs.sync()

    @property
    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._qs.setValue("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._qs.setValue("window/state", value)

    @property
    def thumb_size(self) -> int:
        return self._int("view/thumb_size", DEFAULT_THUMB_SIZE)

    @thumb_size.setter
    def thumb_size(self, value: int) -> None:
        self._qs.setValue("view/thumb_size", int(value))

    @property
    def sort_order(self) -> SortOrder:
        try:
            return SortOrder(str(self._qs.value("view/sort", SortOrder.RELEVANCE.value)))
        except ValueError:
            return SortOrder.RELEVANCE

    @sort_order.setter
    def sort_order(self, value: SortOrder) -> None:
        self._qs.setValue("view/sort", SortOrder(value).value)

    @property
    def thumbnail_cache_bytes(self) -> int:
        """Disk space for thumbnails (``[cache] thumbnails_mib`` in the ini file, at least 16 MiB)."""
        return max(16, self._int("cache/thumbnails_mib", DEFAULT_THUMBNAIL_CACHE_MIB)) * 2**20

    @thumbnail_cache_bytes.setter
    def thumbnail_cache_bytes(self, value: int) -> None:
        self._qs.setValue("cache/thumbnails_mib", max(16, int(value) // 2**20))

    @property
    def result_limit(self) -> int:
        return max(1, self._int("search/result_limit", DEFAULT_RESULT_LIMIT))

    @property
    def model(self) -> str | None:
        """The model argument (registered name, hub id or local folder); None for the default."""
        value = self._qs.value("model/name")
        return str(value) if value else None

    @model.setter
    def model(self, value: str | None) -> None:
        if value:
            self._qs.setValue("model/name", value)
        else:
            self._qs.remove("model/name")

    def _int(self, key: str, default: int) -> int:
        try:
            return int(self._qs.value(key, default))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
