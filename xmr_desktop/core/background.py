"""The core's background work: folder scans in flight, watched changes, and the indexing pipeline's batches.

One ``step()`` is one unit (preparing search after a model load, or one committed batch); the worker serves
any waiting command between two steps. Outcomes of the folder thread (scans, watched changes, probes) arrive
through ``on_outcome``. Runs are tracked from the first pending photo until nothing is pending, and
``IndexNow`` commands are answered when the folders they named are scanned and nothing is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core.folder_io import Availability, ChangesApplied, Maintained, Outcome, Scanned, INTEGRITY_CHECK_EVERY_S
from xmr_desktop.core.runs import IndexReport, IndexRun
from xmr_desktop.core.session import Session
from xmr_desktop.errors import DiskFullError, IndexBusyError, UnknownFolderError, XmrError
from xmr_desktop.library.pipeline import BatchResult
from xmr_desktop.library.store import Folder
from xmr_desktop.library.store.schema import corrupt

log = logging.getLogger(__name__)

# After "database is locked" or "disk full" indexing waits this long and tries again by itself.
RETRY_AFTER_S = 5.0
# After an unexpected error it waits longer (the log has the traceback).
RETRY_AFTER_ERROR_S = 60.0
UNWATCHED_NOTE = "live updates off (raise fs.inotify.max_user_watches)"
RESCANNED_NOTE = "; rescanned every 10 minutes instead"


@dataclass
class _Waiter:
    future: Future[Any]
    folder_ids: set[int]
    report: IndexReport = field(default_factory=IndexReport)
    started: float = field(default_factory=time.monotonic)


class Background:
    """Background work of one ``Session``.

    Attributes:
        activity: "idle", "scanning", "indexing" or "paused" (what ``ActivityChanged`` last said).
    """

    def __init__(self, session: Session, emit: Callable[[e.Event], None], *, should_yield: Callable[[], bool]) -> None:
        self._session = session
        self._emit = emit
        self._should_yield = should_yield
        self._scanning: dict[int, Folder] = {}
        self._run: IndexRun | None = None
        self._waiters: list[_Waiter] = []
        self._retry_at = 0.0
        self._prepare_search = False
        self._unwatched: set[int] = set()
        self.activity = "idle"

    # -- scheduling ----------------------------------------------------------------------------------------------

    def has_work(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        if self._prepare_search:
            return True
        pipeline = self._session.pipeline
        if pipeline is None or self._session.indexing_paused:
            return False
        # A run or a waiting IndexNow needs one more (empty) step to end once the scans are in.
        return pipeline.has_work or (bool(self._run or self._waiters) and not self._scanning)

    def idle_timeout(self) -> float | None:
        """How long the worker may sleep with nothing queued (None: until something arrives)."""
        remaining = self._retry_at - time.monotonic()
        return remaining if remaining > 0 else None

    def start_session(self) -> None:
        """The app's start: watch and rescan every folder, prune and (after an unclean exit) check the index."""
        session = self._session
        store = session.require_store()
        for folder in session.book.folders():
            if session.watcher is not None:
                self.watch(folder)
            self.scan(folder)
        last = float(store.get_meta("last_integrity_check") or 0)
        overdue = time.time() - last > INTEGRITY_CHECK_EVERY_S
        assert session.io is not None
        session.io.maintain(check_integrity=session.previous_run_was_unclean or overdue)
        self.folders_changed()

    # -- requests from the session ---------------------------------------------------------------------------

    def scan(self, folder: Folder) -> None:
        assert self._session.io is not None
        self._scanning[folder.id] = folder
        self._session.book.set_condition(folder.id, scanning=True)
        self.update_activity()
        self._session.io.scan(folder)

    def forget_scan(self, folder_id: int) -> None:
        self._scanning.pop(folder_id, None)
        self._unwatched.discard(folder_id)

    def watch(self, folder: Folder, *, again: bool = False) -> None:
        watcher = self._session.watcher
        status = watcher.rewatch(folder.path) if again else watcher.watch(folder.path)
        self._watched(folder, status)

    def watch_status(self, status: Any) -> None:
        """The watcher found, after the fact, that a root is watched incompletely (or fully again)."""
        folder = self._session.book.by_path(getattr(status, "root", ""))
        if folder is not None:
            self._watched(folder, status)
            self.folders_changed()

    def _watched(self, folder: Folder, status: Any) -> None:
        # A WatchStatus from library/watcher.py; a plain bool from simpler watchers.
        complete = getattr(status, "complete", bool(status))
        session = self._session
        if complete or not _exists(folder.path):
            self._unwatched.discard(folder.id)
            session.book.set_condition(folder.id, note="")
        else:
            self._unwatched.add(folder.id)
            reason = getattr(status, "reason", None) or UNWATCHED_NOTE
            session.book.set_condition(folder.id, note=reason + RESCANNED_NOTE)
        if session.io is not None:
            session.io.set_unwatched(set(self._unwatched))

    def model_loaded(self) -> None:
        session = self._session
        if session.pipeline is not None:
            session.pipeline.rewind()
        # The user's first query then answers at typing speed (vectors in memory, text tower traced).
        self._prepare_search = session.io is not None and session.io.threaded
        self.folders_changed()
        self.update_activity()

    def index_now(self, command: c.IndexNow, future: Future[Any]) -> None:
        """Add and scan the folders, then answer ``future`` with the report when nothing is pending."""
        session = self._session
        if session.indexing_paused:
            raise XmrError("Indexing is paused in the xmr-desktop window; resume it there first.")
        absorbed: list[tuple[str, str]] = []
        if command.paths:
            folders = []
            for path in command.paths:
                added = session.add_folder(path, self)
                folders.append(added.folder)
                absorbed += [(added.folder.path, inner) for inner in added.absorbed]
        else:
            folders = session.book.folders()
            if not folders:
                raise UnknownFolderError("no folders yet; add one with `xmr index PATH`")
        for folder in folders:
            if folder.id not in self._scanning:
                self.scan(folder)
        session.require_model()
        if session.pipeline is not None:
            session.pipeline.rewind(retry_deferred=True)
        waiter = _Waiter(future, {f.id for f in folders})
        waiter.report.absorbed = absorbed
        self._waiters.append(waiter)
        self.update_activity()

    # -- one unit of work --------------------------------------------------------------------------------------

    def step(self) -> bool:
        """Do one unit of background work; False when there was nothing to do."""
        session = self._session
        if self._prepare_search:
            self._prepare_search = False
            if session.searcher is not None:
                try:
                    session.searcher.prepare()
                except XmrError as error:  # a damaged index is reported when the user searches
                    log.warning("could not prepare search: %s", error)
            return True
        pipeline = session.pipeline
        if pipeline is None or session.indexing_paused or time.monotonic() < self._retry_at:
            self._settle()
            return False
        try:
            result = pipeline.step(self._should_yield)
        except (IndexBusyError, DiskFullError) as error:
            self._failed(error, RETRY_AFTER_S)
            return False
        except XmrError as error:
            log.error("indexing failed: %s", error)
            self._failed(error, RETRY_AFTER_ERROR_S)
            return False
        except Exception as error:  # noqa: BLE001  keep the worker alive; the log has the traceback
            log.exception("indexing failed")
            message = f"Indexing stopped after an unexpected error ({type(error).__name__}: {error})."
            self._failed(XmrError(message), RETRY_AFTER_ERROR_S)
            return False
        if result is None:
            self._settle()
            return False
        self._committed(result)
        return True

    def _failed(self, error: XmrError, retry_after: float) -> None:
        """Indexing hit an error: whoever waits for the run hears it; the app tries again by itself later."""
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(error)
        self._waiters.clear()
        threaded = self._session.io is not None and self._session.io.threaded
        if threaded:
            self._retry_at = time.monotonic() + retry_after
            self._emit(e.Problem(f"{error} Indexing resumes by itself.", retrying=True))
        else:
            self._run = None
            self.update_activity()

    def _committed(self, result: BatchResult) -> None:
        session = self._session
        store = session.require_store()
        if self._run is None:
            self._run = IndexRun(store.count_pending(session.model.model_id, session.book.indexable_ids()) + result.done)
        self._run.add_batch(result)
        for waiter in self._waiters:
            waiter.report.add_batch(result)
        session.book.apply(result.folders)
        self._emit(e.IndexingProgress(self._run.progress()))
        if result.done:
            self._emit(e.BatchCommitted(result.embedded, result.reused, len(result.skipped)))
            self._emit(e.SearchableChanged())
        if result.skipped:
            self._emit(e.FilesSkipped(tuple(result.skipped)))
        self.folders_changed()
        self.update_activity()

    def _settle(self) -> None:
        """Nothing to index now: end the run and answer waiters whose scans are done."""
        if self._scanning:
            return
        if self._run is not None:
            run, self._run = self._run, None
            report = run.finish()
            if report.did_anything:
                log.info("indexing run finished: %s", report.summary())
                self._emit(e.IndexingFinished(report))
            self.folders_changed()
        for waiter in self._waiters:
            waiter.report.elapsed = time.monotonic() - waiter.started
            if not waiter.future.done():
                waiter.future.set_result(waiter.report)
        self._waiters.clear()
        self.update_activity()

    # -- outcomes of the folder thread -------------------------------------------------------------------------

    def on_outcome(self, outcome: Outcome) -> None:
        session = self._session
        if isinstance(outcome, Scanned):
            self._scanned(outcome)
        elif isinstance(outcome, ChangesApplied):
            applied = outcome.applied
            for folder in applied.rescan:
                self.scan(folder)
            session.book.recount(session.require_store(), session.model.model_id, applied.folder_ids)
            if session.pipeline is not None and applied.updated:
                session.pipeline.rewind()
            if self._run is not None:
                self._run.add_pending(applied.updated)
            if applied.removed:
                self._emit(e.SearchableChanged())
            self.folders_changed()
        elif isinstance(outcome, Availability):
            self._availability(outcome)
        elif isinstance(outcome, Maintained):
            if outcome.integrity not in ("ok", "skipped"):
                self._emit(e.Problem(str(corrupt(session.require_store().path, outcome.integrity))))
            if outcome.pruned:
                log.info("pruned %d vectors unused for the grace period", outcome.pruned)

    def _scanned(self, outcome: Scanned) -> None:
        session = self._session
        folder, report = outcome.folder, outcome.report
        if self._scanning.pop(folder.id, None) is None and session.book.by_path(folder.path) is None:
            return  # removed while it was being walked
        was_offline = session.book.is_offline(folder.id)
        session.book.set_condition(folder.id, scanning=False, offline=report.root_unavailable)
        if session.watcher is not None and not report.root_unavailable and (was_offline or folder.id in self._unwatched):
            self.watch(folder, again=True)  # back from offline, or a periodic check whether watching works now
        session.book.recount(session.require_store(), session.model.model_id, [folder.id])
        if session.pipeline is not None:
            session.pipeline.rewind(retry_deferred=True)
        if self._run is not None:
            self._run.add_pending(report.new + report.changed)
            self._run.report.add_scan(report)
        for waiter in self._waiters:
            if folder.id in waiter.folder_ids:
                waiter.report.add_scan(report)
        if report.removed:
            self._emit(e.SearchableChanged())
        self.folders_changed()
        self.update_activity()

    def _availability(self, outcome: Availability) -> None:
        book = self._session.book
        folder = outcome.folder
        if book.by_path(folder.path) is None:
            return
        offline = book.is_offline(folder.id)
        if outcome.problem is None and offline and folder.id not in self._scanning:
            log.info("%s is reachable again", folder.path)
            self.scan(folder)  # the scan clears the offline mark
        elif outcome.problem is not None and not offline:
            log.info("%s is offline: %s", folder.path, outcome.problem)
            book.set_condition(folder.id, offline=True)
            self.folders_changed()

    # -- telling the shells --------------------------------------------------------------------------------------

    def folders_changed(self) -> None:
        session = self._session
        infos = session.book.infos(model_ready=session.embedder is not None, indexing_paused=session.indexing_paused)
        self._emit(e.FoldersChanged(tuple(infos)))

    def update_activity(self) -> None:
        if self._session.indexing_paused:
            activity = "paused"
        elif self._run is not None:
            activity = "indexing"
        elif self._scanning:
            activity = "scanning"
        else:
            activity = "idle"
        if activity != self.activity:
            self.activity = activity
            self._emit(e.ActivityChanged(activity))


def _exists(path: str) -> bool:
    import os

    return os.path.isdir(path)
