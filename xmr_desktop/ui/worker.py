"""The long-lived indexing worker: owns the model, a write connection to the store, the indexer and the searcher.

It lives on its own ``QThread`` (``worker_handle.WorkerHandle`` creates it there and posts requests as queued
signals). Background work (``IndexJobs``) runs one unit per event-loop turn; an indexing slice stops as soon
as a request is waiting (``RequestGate``), commits the batch in hand, and the worker re-posts itself *behind*
the request, so a search typed during a 100k-photo run waits for at most one model batch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal, Slot

from xmr_desktop.errors import XmrError
from xmr_desktop.library.indexer import Indexer, IndexProgress, IndexReport
from xmr_desktop.library.store import Store
from xmr_desktop.library.watcher import Changes, FolderWatcher
from xmr_desktop.search.searcher import Searcher
from xmr_desktop.ui.concept_work import ConceptBook
from xmr_desktop.ui.folder_monitor import FolderMonitor, WatcherFactory
from xmr_desktop.ui.index_jobs import IndexJobs
from xmr_desktop.ui.model_files import Embedder, EmbedderFactory
from xmr_desktop.ui.worker_state import RequestGate

log = logging.getLogger(__name__)

AVAILABILITY_CHECK_MS = 3000
FOLDER_STATS_INTERVAL_S = 1.5


class IndexWorker(QObject):
    """Indexes and searches on its own thread; every public slot is a request from the GUI.

    Signals:
        model_ready(name, device): the model loaded; searches queued meanwhile run now.
        model_failed(message): the model could not load; folders can still be managed.
        progress(IndexProgress): totals of the current run (a fresh object each time), after every batch.
        batch_indexed(): a batch was committed (new vectors are searchable).
        index_changed(): anything searchable changed (batches, deletions, removed folders).
        file_failed(path, reason): a photo could not be indexed.
        results(generation, list[SearchResult]): answer to the search request ``generation``.
        search_failed(generation, message): the search ``generation`` could not run (bad query, no model).
        finished(IndexReport): an indexing run that did something ended with nothing left to do.
        folders_changed(list[FolderInfo]): folders with counts and states (throttled while indexing).
        state_changed(state): "loading", "scanning", "indexing", "paused" or "idle".
        concept_taught(name, photos): a name was taught from that many photos; searches use it from now on.
        concepts_changed(list[ConceptInfo]): the names taught for the current model (after load, teach, remove).
        error(message): something failed that the user should know about.
        stopped(): ``shutdown`` finished; the thread can quit.

    Attributes:
        latest_generation: set by the GUI thread before posting a search; older searches are dropped unrun.
        gate: the request counter shared with the handle.
    """

    model_ready = Signal(str, str)
    model_failed = Signal(str)
    progress = Signal(object)
    batch_indexed = Signal()
    index_changed = Signal()
    file_failed = Signal(str, str)
    results = Signal(int, object)
    search_failed = Signal(int, str)
    finished = Signal(object)
    folders_changed = Signal(object)
    state_changed = Signal(str)
    concept_taught = Signal(str, int)
    concepts_changed = Signal(object)
    error = Signal(str)
    stopped = Signal()

    _pump_requested = Signal()
    _changes_arrived = Signal(object)

    def __init__(
        self,
        db_path: Path,
        models_dir: Path,
        embedder_factory: EmbedderFactory,
        *,
        watcher_factory: WatcherFactory | None = FolderWatcher,
        batch_size: int | None = None,
        decode_workers: int | None = None,
    ) -> None:
        super().__init__()
        self.latest_generation = 0
        self.gate = RequestGate()
        self._db_path, self._models_dir = db_path, models_dir
        self._embedder_factory = embedder_factory
        self._concepts = ConceptBook(
            db_path.parent, taught=self.concept_taught.emit, changed=self.concepts_changed.emit, error=self.error.emit
        )
        self._watcher_factory = watcher_factory
        self._indexer_options = {k: v for k, v in (("batch_size", batch_size), ("decode_workers", decode_workers)) if v}
        self._stop = threading.Event()
        self._paused = threading.Event()
        # Everything below is touched only on the worker thread.
        self._store: Store | None = None
        self._monitor: FolderMonitor | None = None
        self._jobs: IndexJobs | None = None
        self._embedder: Embedder | None = None
        self._indexer: Indexer | None = None
        self._searcher: Searcher | None = None
        self._model_state = "none"  # none | loading | ready | failed
        self._model_message = ""
        self._queued_search: tuple[Any, ...] | None = None
        self._pump_posted = False
        self._state = ""
        self._last_folder_stats = 0.0
        self._check_timer: QTimer | None = None
        self._pump_requested.connect(self._pump, Qt.ConnectionType.QueuedConnection)
        self._changes_arrived.connect(self._on_changes, Qt.ConnectionType.QueuedConnection)

    # -- thread-safe entry points (called from the GUI thread) ---------------------------------------------

    def request_stop(self) -> None:
        """Make a running slice return at the next file; ``shutdown`` must still be posted."""
        self._stop.set()

    def request_pause(self, paused: bool) -> None:
        """Make a running slice return at once when pausing; the ``set_paused`` slot does the rest."""
        if paused:
            self._paused.set()

    # -- requests (slots, run on the worker thread) -----------------------------------------------------------

    @Slot()
    def start(self) -> None:
        """Open the store, watch the folders and rescan them all (stat-only for unchanged photos)."""
        self.gate.served()
        try:
            self._store = Store.open(self._db_path)
        except XmrError as error:
            log.error("cannot open the index: %s", error)
            self.error.emit(str(error))
            return
        self._monitor = FolderMonitor(self._watcher_factory, self._watched_changes)
        self._jobs = IndexJobs(self._store, self._monitor, _Events(self))
        for folder in self._store.folders():
            self._monitor.watch(folder.path)
            self._jobs.queue_scan(folder.path)
        self._check_timer = QTimer(self)
        self._check_timer.timeout.connect(self._check_availability)
        self._check_timer.start(AVAILABILITY_CHECK_MS)
        self._emit_folders(force=True)
        self._schedule()

    @Slot(object)
    def load_model(self, argument: str | None) -> None:
        """Load (or switch to) the model named by ``argument``; blocks this thread for seconds, never the GUI."""
        self.gate.served()
        if self._stop.is_set():
            return
        self._set_state("loading")
        self._model_state = "loading"
        self._close_model()
        try:
            embedder = self._embedder_factory(argument, self._models_dir)
        except XmrError as error:
            log.warning("model %s unavailable: %s", argument, error)
            self._model_failed(str(error))
            return
        except Exception as error:  # TensorFlow raises many unrelated types; the user needs one message
            log.exception("loading model %s failed", argument)
            self._model_failed(f"The model could not be loaded ({type(error).__name__}: {error}).")
            return
        self._embedder, self._model_state = embedder, "ready"
        if self._store is not None:
            self._indexer = Indexer(self._store, embedder, **self._indexer_options)  # type: ignore[arg-type]
            self._searcher = Searcher(self._store, embedder)  # type: ignore[arg-type]
            self._concepts.refresh(self._searcher)
        self.model_ready.emit(str(getattr(embedder, "name", argument or "")), str(getattr(embedder, "device", "")))
        self._emit_folders(force=True)
        if self._queued_search is not None:
            queued, self._queued_search = self._queued_search, None
            self._search(*queued)
        elif self._searcher is not None:
            self._prepare_search(self._searcher)
        if self._jobs is not None:
            self._jobs.index_wanted = True
        self._schedule()

    def _prepare_search(self, searcher: Searcher) -> None:
        try:
            searcher.prepare()
        except XmrError as error:  # a damaged index is reported when the user searches
            log.warning("could not prepare search: %s", error)

    @Slot(int, str, str, object, int)
    def search(self, generation: int, kind: str, query: str, folder: str | None, top_k: int) -> None:
        """Run a text (``kind`` "text") or image (``kind`` "image") query unless a newer one was posted."""
        self.gate.served()
        if generation < self.latest_generation:
            return
        if self._model_state in ("none", "loading"):
            self._queued_search = (generation, kind, query, folder, top_k)
            return
        self._search(generation, kind, query, folder, top_k)

    @Slot(str)
    def add_folder(self, path: str) -> None:
        self.gate.served()
        if self._store is None or self._jobs is None or self._monitor is None:
            return
        try:
            self._store.add_folder(os.path.abspath(path))
        except (XmrError, ValueError) as error:
            self.error.emit(str(error))
            return
        self._monitor.watch(path)
        self._jobs.queue_scan(path)
        self._schedule()

    @Slot(str)
    def remove_folder(self, path: str) -> None:
        """Stop watching a folder and forget its photos (and the vectors no other file shares)."""
        self.gate.served()
        if self._store is None or self._jobs is None or self._monitor is None:
            return
        self._monitor.forget(path)
        self._jobs.forget(path)
        try:
            removed = self._store.remove_folder(path)
            self._store.prune_embeddings()
        except XmrError as error:
            self.error.emit(str(error))
            return
        log.info("removed folder %s (%d files)", path, removed)
        self._index_changed(batch=False)
        self._emit_folders(force=True)

    @Slot(str, bool)
    def set_folder_paused(self, path: str, paused: bool) -> None:
        self.gate.served()
        if self._store is None or self._jobs is None:
            return
        try:
            self._store.set_folder_paused(path, paused)
        except XmrError as error:
            self.error.emit(str(error))
            return
        self._emit_folders(force=True)
        self._jobs.index_wanted = True
        self._schedule()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        """Pause or resume all indexing; searches, scans and watching keep working."""
        self.gate.served()
        if paused:
            self._paused.set()
            self._set_state("paused")
        else:
            self._paused.clear()
            if self._jobs is not None:
                self._jobs.index_wanted = True
            self._schedule()
        self._emit_folders(force=True)

    @Slot(object)
    def rescan(self, paths: list[str] | None) -> None:
        """Walk these folders (None: all) and index what changed."""
        self.gate.served()
        if self._store is None or self._jobs is None:
            return
        for path in paths if paths is not None else [f.path for f in self._store.folders()]:
            self._jobs.queue_scan(path)
        self._schedule()

    @Slot(str, object)
    def teach_concept(self, name: str, photos: list[str]) -> None:
        """Teach ``name`` from ``photos`` (their indexed vectors; nothing is embedded again) and search with it."""
        self.gate.served()
        self._concepts.teach(self._searcher, name, photos)

    @Slot(str)
    def remove_concept(self, name: str) -> None:
        self.gate.served()
        self._concepts.remove(self._searcher, name)

    @Slot()
    def list_concepts(self) -> None:
        self.gate.served()
        self._concepts.refresh(self._searcher)

    @Slot()
    def shutdown(self) -> None:
        """Stop watching, release the model and the store, then emit ``stopped``."""
        self.gate.served()
        self._stop.set()
        if self._check_timer is not None:
            self._check_timer.stop()
        if self._monitor is not None:
            self._monitor.stop()
        self._close_model()
        self._jobs = None
        if self._store is not None:
            self._store.close()
            self._store = None
        # Hand the object (and its timer) back to the main thread, which deletes it after this thread ends.
        app = QCoreApplication.instance()
        if app is not None:
            self.moveToThread(app.thread())
        self.stopped.emit()

    # -- internals -------------------------------------------------------------------------------------

    def _watched_changes(self, changes: Changes) -> None:
        # Called on the watcher's thread: count it as a request so a running slice yields to it.
        self.gate.posted()
        self._changes_arrived.emit(changes)

    @Slot(object)
    def _on_changes(self, changes: Changes) -> None:
        self.gate.served()
        if self._jobs is not None:
            self._jobs.add_changes(changes)
            self._schedule()

    def _schedule(self) -> None:
        if not self._pump_posted and not self._stop.is_set():
            self._pump_posted = True
            self._pump_requested.emit()

    def _should_stop(self) -> bool:
        return self._stop.is_set() or self._paused.is_set() or self.gate.waiting()

    @Slot()
    def _pump(self) -> None:
        """Do one unit of background work, then re-post (behind any request that arrived meanwhile)."""
        self._pump_posted = False
        if self._stop.is_set() or self._jobs is None:
            return
        indexer = None if self._paused.is_set() else self._indexer
        try:
            more = self._jobs.step(indexer, self._should_stop)
        except XmrError as error:
            log.error("background work failed: %s", error)
            self.error.emit(str(error))
            self._jobs.index_wanted, more = False, False
        except Exception as error:  # noqa: BLE001  keep the worker alive; the log has the traceback
            log.exception("background work failed")
            self.error.emit(f"Indexing stopped after an unexpected error ({type(error).__name__}: {error}).")
            self._jobs.index_wanted, more = False, False
        if more:
            self._schedule()
        elif self._paused.is_set():
            self._set_state("paused")
        else:
            self._set_state("loading" if self._model_state == "loading" else "idle")

    def _search(self, generation: int, kind: str, query: str, folder: str | None, top_k: int) -> None:
        if self._searcher is None:
            message = self._model_message or "Searching is not possible: no model or no index is open."
            self.search_failed.emit(generation, message)
            return
        try:
            if kind == "image":
                found = self._searcher.similar(query, top_k, folder=folder)
            else:
                found = self._searcher.search(query, top_k, folder=folder)
        except XmrError as error:
            self.search_failed.emit(generation, str(error))
            return
        except Exception as error:  # noqa: BLE001  a failed search must not end the worker
            log.exception("search %r failed", query)
            self.search_failed.emit(generation, f"The search failed ({type(error).__name__}: {error}).")
            return
        self.results.emit(generation, found)

    def _index_changed(self, batch: bool) -> None:
        if self._searcher is not None:
            self._searcher.refresh()
        if batch:
            self.batch_indexed.emit()
        self.index_changed.emit()

    def _model_failed(self, message: str) -> None:
        self._model_state, self._model_message = "failed", message
        self.model_failed.emit(message)
        if self._queued_search is not None:
            generation = self._queued_search[0]
            self._queued_search = None
            self.search_failed.emit(generation, message)
        self._set_state("idle")

    def _close_model(self) -> None:
        self._indexer = self._searcher = None
        if self._embedder is not None:
            close = getattr(self._embedder, "close", None)
            if close is not None:
                close()
            self._embedder = None

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    @Slot()
    def _check_availability(self) -> None:
        """Notice folders that went away (unplugged drive) or came back; the latter are rescanned."""
        if self._store is None or self._monitor is None or self._jobs is None:
            return
        gone, back = self._monitor.check(folder.path for folder in self._store.folders())
        for path in back:
            self._jobs.queue_scan(path)  # the scan clears the offline mark and re-watches
        if back:
            self._schedule()
        if gone:
            self._emit_folders(force=True)

    def _emit_folders(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._store is None or self._monitor is None or self._jobs is None:
            return
        if not force and now - self._last_folder_stats < FOLDER_STATS_INTERVAL_S:
            return
        self._last_folder_stats = now
        model_id = self._embedder.model_id if self._embedder is not None else ""
        indexing = None if self._model_state != "ready" else not self._paused.is_set()
        scanning = set(self._jobs.scan_queue)
        self.folders_changed.emit(self._monitor.infos(self._store, model_id, scanning, indexing))


class _Events:
    """``JobEvents`` for the worker: each report becomes a signal (or a throttled folder update)."""

    def __init__(self, worker: IndexWorker) -> None:
        self._worker = worker

    def progress(self, progress: IndexProgress) -> None:
        self._worker.progress.emit(progress)

    def index_changed(self, batch: bool) -> None:
        self._worker._index_changed(batch)

    def folders_changed(self, force: bool) -> None:
        self._worker._emit_folders(force)

    def state(self, state: str) -> None:
        self._worker._set_state(state)

    def file_failed(self, path: str, reason: str) -> None:
        self._worker.file_failed.emit(path, reason)

    def finished(self, report: IndexReport) -> None:
        self._worker.finished.emit(report)
