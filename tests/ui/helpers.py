"""Helpers shared by the desktop app's tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

from xmr_desktop.library.indexer import IndexReport
from xmr_desktop.library.watcher import FolderWatcher

# Short debounce so watcher tests finish quickly; the burst test still sees many events per batch.
WATCH_DEBOUNCE_S = 0.3
WATCH_MAX_WAIT_S = 2.0
INDEX_TIMEOUT_MS = 30_000

PHOTO_ITEMS = [("red", "circle"), ("green", "square"), ("blue", "triangle"), ("yellow", "circle"), ("green", "circle")]


def quick_watcher(callback: Callable[..., None]) -> FolderWatcher:
    return FolderWatcher(callback, debounce=WATCH_DEBOUNCE_S, max_wait=WATCH_MAX_WAIT_S)


def indexed_at_least(count: int) -> Callable[[IndexReport], bool]:
    """A ``waitSignal`` check: the finished run indexed (embedded or reused) at least ``count`` photos."""
    return lambda report: report.embedded + report.reused >= count
