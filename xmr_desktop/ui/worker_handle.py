"""The GUI thread's side of the indexing worker: it owns the thread and posts requests as queued signals.

Every request first counts itself in the worker's ``RequestGate`` and only then is posted, so an indexing slice
in progress sees it waiting and yields between files.
"""

from __future__ import annotations

import itertools
import threading
import logging
from pathlib import Path

from PySide6.QtCore import QDeadlineTimer, QObject, Qt, QThread, Signal

from xmr_desktop.library.watcher import FolderWatcher
from xmr_desktop.ui.folder_monitor import WatcherFactory
from xmr_desktop.ui.model_files import EmbedderFactory
from xmr_desktop.ui.worker import IndexWorker

log = logging.getLogger(__name__)


class WorkerThread(QThread):
    """A ``QThread`` whose event loop runs inside one Python call.

    Without this, PySide creates a fresh Python thread state for every slot call on a plain ``QThread`` and
    destroys it afterwards; TensorFlow's pybind11 code caches the thread state it first saw and later
    dereferences the destroyed one (a segfault in ``gil_scoped_acquire`` while tracing the model). With
    ``run`` overridden in Python, the thread keeps one thread state for its whole life.
    """

    def run(self) -> None:
        threading.current_thread().name = self.objectName() or "xmr-worker"  # for the log's threadName
        self.exec()


class WorkerHandle(QObject):
    """Starts ``IndexWorker`` on its own ``QThread`` and forwards requests to it.

    Connect to ``handle.worker``'s signals with bound methods of GUI-thread objects (they arrive queued).

    Attributes:
        worker: the worker (lives on ``thread``; call only its thread-safe ``request_*`` methods directly).
        thread: the worker's thread, named ``xmr-index``.
    """

    _start = Signal()
    _load_model = Signal(object)
    _search = Signal(int, str, str, object, int)
    _add_folder = Signal(str)
    _remove_folder = Signal(str)
    _set_folder_paused = Signal(str, bool)
    _set_paused = Signal(bool)
    _rescan = Signal(object)
    _teach_concept = Signal(str, object)
    _remove_concept = Signal(str)
    _list_concepts = Signal()
    _shutdown = Signal()

    def __init__(
        self,
        db_path: Path,
        models_dir: Path,
        embedder_factory: EmbedderFactory,
        *,
        watcher_factory: WatcherFactory | None = FolderWatcher,
        batch_size: int | None = None,
        decode_workers: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = IndexWorker(
            db_path,
            models_dir,
            embedder_factory,
            watcher_factory=watcher_factory,
            batch_size=batch_size,
            decode_workers=decode_workers,
        )
        self.thread = WorkerThread()
        self.thread.setObjectName("xmr-index")
        self.worker.moveToThread(self.thread)
        self._generations = itertools.count(1)
        self._started = False
        queued = Qt.ConnectionType.QueuedConnection
        w = self.worker
        for signal, slot in (
            (self._start, w.start),
            (self._load_model, w.load_model),
            (self._search, w.search),
            (self._add_folder, w.add_folder),
            (self._remove_folder, w.remove_folder),
            (self._set_folder_paused, w.set_folder_paused),
            (self._set_paused, w.set_paused),
            (self._rescan, w.rescan),
            (self._teach_concept, w.teach_concept),
            (self._remove_concept, w.remove_concept),
            (self._list_concepts, w.list_concepts),
            (self._shutdown, w.shutdown),
        ):
            signal.connect(slot, queued)
        # Direct: quit() is thread-safe and must run even though the worker thread is about to stop.
        w.stopped.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    @property
    def running(self) -> bool:
        return self.thread.isRunning()

    def start(self) -> None:
        """Start the thread; the worker opens the store and rescans all folders."""
        self._started = True
        self.thread.start()
        self._post(self._start)

    def load_model(self, argument: str | None) -> None:
        self._post(self._load_model, argument)

    def search(self, query: str, folder: str | None = None, top_k: int = 1000) -> int:
        """Post a text search; returns its generation (results of older generations are stale)."""
        return self._search_request("text", query, folder, top_k)

    def similar(self, image_path: str, folder: str | None = None, top_k: int = 1000) -> int:
        """Post an image query; returns its generation."""
        return self._search_request("image", image_path, folder, top_k)

    def invalidate_searches(self) -> int:
        """Make every search posted so far stale (the query was cleared); returns the new generation."""
        generation = next(self._generations)
        self.worker.latest_generation = generation
        return generation

    def add_folder(self, path: str) -> None:
        self._post(self._add_folder, path)

    def remove_folder(self, path: str) -> None:
        self._post(self._remove_folder, path)

    def set_folder_paused(self, path: str, paused: bool) -> None:
        self._post(self._set_folder_paused, path, paused)

    def set_paused(self, paused: bool) -> None:
        self.worker.request_pause(paused)
        self._post(self._set_paused, paused)

    def rescan(self, paths: list[str] | None = None) -> None:
        self._post(self._rescan, paths)

    def teach_concept(self, name: str, photos: list[str]) -> None:
        """Teach ``name`` from ``photos``; the worker answers ``concept_taught`` + ``concepts_changed`` or ``error``."""
        self._post(self._teach_concept, name, list(photos))

    def remove_concept(self, name: str) -> None:
        self._post(self._remove_concept, name)

    def list_concepts(self) -> None:
        self._post(self._list_concepts)

    def stop(self, timeout_ms: int = 2000) -> bool:
        """Ask the worker to finish its batch, release everything and end the thread; True if it ended in time.

        A worker still loading the model cannot be interrupted; then we wait on (logged), because
        destroying a running ``QThread`` would abort the process.
        """
        if not self._started:
            return True
        self._started = False
        self.worker.request_stop()
        self._post(self._shutdown)
        if self.thread.wait(QDeadlineTimer(timeout_ms)):
            return True
        log.warning("the indexing thread is still busy after %d ms (loading the model?); waiting for it", timeout_ms)
        self.thread.wait()
        return False

    def _search_request(self, kind: str, query: str, folder: str | None, top_k: int) -> int:
        generation = next(self._generations)
        self.worker.latest_generation = generation
        self._post(self._search, generation, kind, query, folder, top_k)
        return generation

    def _post(self, signal: Signal, *args: object) -> None:  # type: ignore[valid-type]
        self.worker.gate.posted()
        signal.emit(*args)  # type: ignore[attr-defined]
