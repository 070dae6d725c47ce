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
DEFAULT_VIEWER_WIDTH = 380
MIN_VIEWER_WIDTH = 160
DEFAULT_STRICTNESS = 0.5  # search.cutoff.DEFAULT_STRICTNESS (that module needs numpy; settings are read first)
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
    def strictness(self) -> float:
        """Where the strong matches end, 0 (loose) to 1 (strict): the search bar's slider."""
        try:
            value = float(self._qs.value("search/strictness", DEFAULT_STRICTNESS))
        except (TypeError, ValueError):
            return DEFAULT_STRICTNESS
        return value if 0.0 <= value <= 1.0 else DEFAULT_STRICTNESS

    @strictness.setter
    def strictness(self, value: float) -> None:
        self._qs.setValue("search/strictness", float(value))

    @property
    def viewer_visible(self) -> bool:
        """Whether the viewer pane is shown beside the grid."""
        value = self._qs.value("viewer/visible", True)
        return value if isinstance(value, bool) else str(value).lower() not in ("false", "0", "no")

    @viewer_visible.setter
    def viewer_visible(self, value: bool) -> None:
        self._qs.setValue("viewer/visible", bool(value))

    @property
    def viewer_width(self) -> int:
        """The viewer pane's width in pixels."""
        return max(MIN_VIEWER_WIDTH, self._int("viewer/width", DEFAULT_VIEWER_WIDTH))

    @viewer_width.setter
    def viewer_width(self, value: int) -> None:
        self._qs.setValue("viewer/width", int(value))

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

    @property
    def languages_asked(self) -> bool:
        """The first-run question (which languages the user searches in) has been answered."""
        return self._qs.value("language/asked", "false") in (True, "true", "1")

    @property
    def search_languages(self) -> str | None:
        """The answer's key (``core.language_choice.CHOICES``), None until answered."""
        value = self._qs.value("language/searches_in")
        return str(value) if value else None

    @search_languages.setter
    def search_languages(self, key: str) -> None:
        self._qs.setValue("language/searches_in", key)
        self._qs.setValue("language/asked", True)

    @property
    def query_language(self) -> str:
        """Which text tower answers query terms of a multilingual model: ``auto`` (default), ``en`` or ``multi``."""
        from xmr_desktop.core.commands import LANGUAGES

        value = str(self._qs.value("language/query", "auto"))
        return value if value in LANGUAGES else "auto"

    @query_language.setter
    def query_language(self, value: str) -> None:
        self._qs.setValue("language/query", value)

    @property
    def seconds_per_photo(self) -> float | None:
        """Embedding time per photo measured in the last indexing run that embedded any (for estimates)."""
        try:
            value = float(self._qs.value("indexing/seconds_per_photo", 0.0))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return value if value > 0 else None

    @seconds_per_photo.setter
    def seconds_per_photo(self, value: float) -> None:
        self._qs.setValue("indexing/seconds_per_photo", float(value))

    def _int(self, key: str, default: int) -> int:
        try:
            return int(self._qs.value(key, default))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
