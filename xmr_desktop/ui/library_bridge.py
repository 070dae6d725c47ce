"""The window's one connection to the core: every command gets its answer through one result-or-error
callback on the GUI thread (Picard's ``run_task``, Anki's ``QueryOp``), and the core's events arrive on the GUI
thread in throttled, coalesced batches through one signal.

Nothing here knows what the commands do; the window decides what to ask and how to show the answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from xmr_desktop.core import events as e
from xmr_desktop.core.commands import Command
from xmr_desktop.core.library import PhotoLibrary

log = logging.getLogger(__name__)

# Events are handed to the window at most this often: a fast model commits dozens of batches a second.
THROTTLE_MS = 100
# Of these only the newest matters; older ones in the same batch are dropped.
_LATEST_ONLY = (
    e.IndexingProgress, e.FoldersChanged, e.ActivityChanged, e.SearchableChanged, e.ConceptsChanged, e.DuplicatesProgress,
    e.ModelPreparing,
)

OnResult = Callable[[Any], None]
OnError = Callable[[str], None]


class LibraryBridge(QObject):
    """Wraps a ``PhotoLibrary`` for the GUI thread.

    Signals:
        events(list[Event]): what happened since the last batch, oldest first, coalesced.
        failed(message): a command without its own error callback failed.

    Attributes:
        library: the core (started by ``start``, closed by ``close``).
    """

    events = Signal(object)
    failed = Signal(str)
    _answered = Signal(object)
    _events_waiting = Signal()

    def __init__(self, library: PhotoLibrary, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self._pending: list[e.Event] = []
        self._lock = threading.Lock()
        self._flush_posted = False
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self._flush)
        self._answered.connect(self._deliver)
        self._events_waiting.connect(self._schedule_flush)
        self._unsubscribe = library.subscribe(self._on_event)

    def start(self) -> None:
        self.library.start()

    def call(self, command: Command, on_result: OnResult | None = None, on_error: OnError | None = None) -> Future[Any]:
        """Submit ``command``; ``on_result(value)`` or ``on_error(message)`` runs later on the GUI thread.

        A command replaced by a newer one on its channel (a search typed over) calls neither.
        """
        future = self.library.submit(command)
        future.add_done_callback(lambda done: self._answer_from_any_thread(done, on_result, on_error))
        return future

    def close(self, timeout: float = 5.0) -> bool:
        """Stop the core (the batch in hand is committed) and stop delivering; True if it ended in time."""
        self._closed = True
        self._timer.stop()
        self._unsubscribe()
        return self.library.close(timeout)

    # -- answers -------------------------------------------------------------------------------------------------

    def _answer_from_any_thread(self, done: Future[Any], on_result: OnResult | None, on_error: OnError | None) -> None:
        if not self._closed:
            self._answered.emit((done, on_result, on_error))

    @Slot(object)
    def _deliver(self, answer: tuple[Future[Any], OnResult | None, OnError | None]) -> None:
        done, on_result, on_error = answer
        if self._closed or done.cancelled():
            return
        error = done.exception()
        if error is not None:
            message = str(error) or type(error).__name__
            if on_error is not None:
                on_error(message)
            else:
                log.warning("command failed: %s", message)
                self.failed.emit(message)
        elif on_result is not None:
            on_result(done.result())

    # -- events --------------------------------------------------------------------------------------------------

    def _on_event(self, event: e.Event) -> None:
        # The core's thread: queue it, and post one flush request until the GUI thread takes the batch.
        with self._lock:
            self._pending.append(event)
            if self._flush_posted:
                return
            self._flush_posted = True
        self._events_waiting.emit()

    @Slot()
    def _schedule_flush(self) -> None:
        if not self._timer.isActive() and not self._closed:
            self._timer.start()

    @Slot()
    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._flush_posted = False
        if batch and not self._closed:
            self.events.emit(coalesce(batch))


def coalesce(batch: list[e.Event]) -> list[e.Event]:
    """The batch in order, keeping only the newest event of each ``_LATEST_ONLY`` kind."""
    last = {type(event): index for index, event in enumerate(batch) if isinstance(event, _LATEST_ONLY)}
    return [event for index, event in enumerate(batch) if not isinstance(event, _LATEST_ONLY) or last[type(event)] == index]
