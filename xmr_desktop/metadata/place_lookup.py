"""The process's offline place names for one cache directory, prepared on a background thread when first due.

Opening the gazetteer reads its cache (milliseconds) and loads 69,000 town positions; the very first use on a
machine builds the cache from the packaged GeoNames data, which takes seconds. Nobody should wait for that
when nothing needs it: a library without GPS or place tags never loads it, and one with places starts loading
it as soon as the index is open (``start``), while the model loads. Whoever needs it first (indexing a photo
with GPS, reading "在巴黎", ``--place Lisbon``) gets it with ``get()``, which waits for that preparation.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from xmr_desktop.metadata.places import Gazetteer

log = logging.getLogger(__name__)

_shared: dict[Path | None, PlaceLookup] = {}
_shared_lock = threading.Lock()


class PlaceLookup:
    """One ``Gazetteer``, prepared at most once, on a daemon thread.

    Attributes:
        cache_dir: where the gazetteer's cache lives (None: a temporary file for this process).
    """

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._gazetteer = Gazetteer(cache_dir)
        self._lock = threading.Lock()
        self._prepared = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def shared(cls, cache_dir: Path | None) -> PlaceLookup:
        """The one lookup of this process for ``cache_dir`` (a gazetteer holds its towns in memory once)."""
        key = Path(cache_dir) if cache_dir is not None else None
        with _shared_lock:
            found = _shared.get(key)
            if found is None:
                found = _shared[key] = cls(key)
            return found

    def start(self) -> None:
        """Begin preparing in the background (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._prepare, name="xmr-places", daemon=True)
            self._thread.start()

    @property
    def ready(self) -> bool:
        return self._prepared.is_set()

    def get(self) -> Gazetteer:
        """The gazetteer, prepared (waits for the background preparation, starting it if needed)."""
        if not self._prepared.is_set():
            self.start()
            self._prepared.wait()
        return self._gazetteer

    def _prepare(self) -> None:
        try:
            self._gazetteer.prepare()
        except Exception:  # noqa: BLE001  a broken cache must not kill the thread others wait on; calls then retry
            log.exception("preparing the offline place names failed")
        finally:
            self._prepared.set()
