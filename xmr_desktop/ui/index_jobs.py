"""The indexing worker's background work, Qt-free: apply watcher changes, scan folders, index in slices.

``IndexJobs.step`` does one unit and returns; the worker calls it again through its event loop, so requests
queued meanwhile (searches, folder changes) are served between units. An indexing slice ends early as soon
as ``should_stop`` says a request is waiting: the batch in hand is committed, nothing is lost.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Protocol

from xmr_desktop.errors import XmrError
from xmr_desktop.library.indexer import Indexer, IndexProgress, IndexReport
from xmr_desktop.library.scanner import sync_folder
from xmr_desktop.library.store import Store
from xmr_desktop.library.watcher import Changes, apply_changes
from xmr_desktop.ui.folder_monitor import FolderMonitor
from xmr_desktop.ui.worker_state import IndexRun

log = logging.getLogger(__name__)


class JobEvents(Protocol):
    """What the jobs report; the worker turns each call into a signal."""

    def progress(self, progress: IndexProgress) -> None: ...

    def index_changed(self, batch: bool) -> None: ...

    def folders_changed(self, force: bool) -> None: ...

    def state(self, state: str) -> None: ...

    def file_failed(self, path: str, reason: str) -> None: ...

    def finished(self, report: IndexReport) -> None: ...


class IndexJobs:
    """Pending background work of one store.

    Attributes:
        store: the worker's connection.
        monitor: watching and offline state of the folders.
        scan_queue: folder paths waiting for a walk, in order.
        index_wanted: something may be pending; the next idle step runs an indexing slice.
    """

    def __init__(self, store: Store, monitor: FolderMonitor, events: JobEvents) -> None:
        self.store = store
        self.monitor = monitor
        self.scan_queue: list[str] = []
        self.index_wanted = True
        self._events = events
        self._changes = Changes()
        self._run: IndexRun | None = None

    def queue_scan(self, path: str) -> None:
        if path not in self.scan_queue:
            self.scan_queue.append(path)
        self.index_wanted = True

    def add_changes(self, changes: Changes) -> None:
        self._changes.merge(changes)

    def forget(self, path: str) -> None:
        """A folder was removed: no scan for it any more."""
        self.scan_queue = [p for p in self.scan_queue if p != path]

    def has_background_work(self) -> bool:
        return bool(self._changes or self.scan_queue)

    def step(self, indexer: Indexer | None, should_stop: Callable[[], bool]) -> bool:
        """Do one unit of work (changes, one folder scan, or one indexing slice); True if more is waiting.

        ``indexer`` is None while no model is loaded (or indexing is paused): changes and scans still run.
        """
        if self._changes:
            self._apply_changes()
            return True
        if self.scan_queue:
            self._events.state("scanning")
            self._scan(self.scan_queue.pop(0))
            return True
        if self.index_wanted and indexer is not None:
            return self._index_slice(indexer, should_stop)
        return False

    def _apply_changes(self) -> None:
        changes, self._changes = self._changes, Changes()
        applied = apply_changes(self.store, changes)
        for folder in applied.rescan:
            self.queue_scan(folder.path)
        if applied.updated or applied.removed:
            self.index_wanted = True
        if applied.removed:
            self._events.index_changed(False)
        self._events.folders_changed(True)

    def _scan(self, path: str) -> None:
        try:
            folder = self.store.folder(path)
        except XmrError:
            return  # removed meanwhile
        report = sync_folder(self.store, folder)
        self.monitor.scanned(path, report)
        if self._run is not None:
            self._run.add_scan(report)
        if report.removed:
            self._events.index_changed(False)
        self._events.folders_changed(True)

    def _index_slice(self, indexer: Indexer, should_stop: Callable[[], bool]) -> bool:
        self._events.state("indexing")
        if self._run is None:
            self._run = IndexRun()
        run = self._run
        folder_ids = [f.id for f in self.store.folders() if f.path not in self.monitor.offline]
        last: list[IndexProgress] = []

        def on_progress(state: IndexProgress) -> None:
            last.append(dataclasses.replace(state))
            self._events.progress(run.progress(state))
            self._events.index_changed(True)
            self._events.folders_changed(False)

        slice_report = indexer.index_pending(folder_ids, progress=on_progress, should_stop=should_stop)
        run.add_slice(last[-1] if last else None, slice_report)
        for path, reason in slice_report.skipped_files:
            self._events.file_failed(path, reason)
        if should_stop():
            return True
        self._run, self.index_wanted = None, False
        self._events.folders_changed(True)
        report = run.finish()
        if run.did_anything:
            log.info("indexing run finished: %s", report.summary())
            self._events.finished(report)
        return False
