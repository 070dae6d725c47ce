"""Helpers shared by the desktop app's tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from xmr_desktop.core.runs import IndexReport
from xmr_desktop.library.watcher import FolderWatcher

# Short debounce so watcher tests finish quickly; the burst test still sees many events per batch.
WATCH_DEBOUNCE_S = 0.3
WATCH_MAX_WAIT_S = 2.0
INDEX_TIMEOUT_MS = 30_000

PHOTO_ITEMS = [("red", "circle"), ("green", "square"), ("blue", "triangle"), ("yellow", "circle"), ("green", "circle")]


def quick_watcher(callback: Callable[..., None], **options: Any) -> FolderWatcher:
    return FolderWatcher(callback, debounce=WATCH_DEBOUNCE_S, max_wait=WATCH_MAX_WAIT_S, **options)


def indexed_at_least(count: int) -> Callable[[IndexReport], bool]:
    """A ``waitSignal`` check: the finished run indexed (embedded or reused) at least ``count`` photos."""
    return lambda report: report.embedded + report.reused >= count


class EventRelay(QObject):
    """Re-emits the core's events of one kind, as the window receives them, for pytest-qt's ``waitSignal``."""

    fired = Signal(object)

    def __init__(self, window: Any, kind: type) -> None:
        super().__init__(window)
        self._kind = kind
        window.bridge.events.connect(self._on_events)

    def _on_events(self, batch: list[Any]) -> None:
        for event in batch:
            if isinstance(event, self._kind):
                self.fired.emit(event)
