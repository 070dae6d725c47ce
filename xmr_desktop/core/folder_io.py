"""Filesystem work off the search path: folder scans, watched changes, availability probes, maintenance.

A scan of a big or slow folder, or a probe of a network mount that stopped answering, must never delay a
search or the window's close. In threaded mode all of it runs on one ``xmr-folders`` thread with its own store
connection (SQLite serialises its short write transactions with the worker's); each outcome is handed back to
the core through ``post`` and applied on the core's worker thread. Probes run on throwaway daemon threads with
a timeout, so a hung mount shows as offline instead of hanging anything. Inline mode (the CLI, tests) does the
same work on the caller's thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xmr_desktop.library.scanner import ScanReport, root_problem, sync_folder
from xmr_desktop.library.store import Folder, Store
from xmr_desktop.library.watcher import AppliedChanges, Changes, apply_changes
from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 3.0
PROBE_TIMEOUT_S = 5.0
# Folders whose live updates are incomplete (inotify limit) are walked this often instead.
UNWATCHED_RESCAN_S = 600.0
INTEGRITY_CHECK_EVERY_S = 30 * 24 * 3600.0


@dataclass(frozen=True)
class Scanned:
    """A scan finished (``report.root_unavailable``: the folder was offline and nothing was swept)."""

    folder: Folder
    report: ScanReport


@dataclass(frozen=True)
class ChangesApplied:
    applied: AppliedChanges


@dataclass(frozen=True)
class Availability:
    """A probe's verdict: ``problem`` is None when the folder can be trusted for a sweep."""

    folder: Folder
    problem: str | None


@dataclass(frozen=True)
class Maintained:
    """Start-up maintenance ran: vectors pruned, and the integrity verdict ("ok", "skipped" or the problem)."""

    pruned: int
    integrity: str


Outcome = Scanned | ChangesApplied | Availability | Maintained


class Prober:
    """``root_problem`` with a timeout: a mount that does not answer is reported, not waited for.

    A probe that hangs keeps its thread; until it returns, that folder is reported as not answering without
    starting another thread on it.
    """

    def __init__(self, timeout: float = PROBE_TIMEOUT_S) -> None:
        self.timeout = timeout
        self._hung: dict[str, threading.Thread] = {}

    def problem(self, path: str, has_files: bool) -> str | None:
        silent = f"the folder does not answer within {self.timeout:.0f} s (a network drive that hung?)"
        hung = self._hung.get(path)
        if hung is not None:
            if hung.is_alive():
                return silent
            del self._hung[path]
        answer: list[str | None] = []
        worker = threading.Thread(target=lambda: answer.append(root_problem(path, has_files)), name="xmr-probe", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not answer:
            self._hung[path] = worker
            return silent
        return answer[0]


class FolderIO:
    """Runs folder work for one index and posts each ``Outcome`` to ``post`` (called on this object's thread,
    or the caller's in inline mode).

    Attributes:
        threaded: whether a thread of its own does the work.
    """

    def __init__(self, db_path: Path, post: Callable[[Outcome], None], *, threaded: bool, store: Store | None = None) -> None:
        self.threaded = threaded
        self._db_path = db_path
        self._post = post
        self._store = store  # inline mode: the caller's connection
        self._jobs: queue.Queue[Callable[[Store], None] | None] = queue.Queue()
        self._prober = Prober()
        self._unwatched: set[int] = set()
        self._last_unwatched_scan = time.monotonic()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="xmr-folders", daemon=True)
            self._thread.start()

    # -- requests (any thread) -------------------------------------------------------------------------------

    def scan(self, folder: Folder) -> None:
        self._do(lambda store: self._scan(store, folder))

    def apply(self, changes: Changes) -> None:
        self._do(lambda store: self._post(ChangesApplied(apply_changes(store, changes))))

    def maintain(self, *, check_integrity: bool) -> None:
        self._do(lambda store: self._maintain(store, check_integrity))

    def set_unwatched(self, folder_ids: set[int]) -> None:
        """Folders whose live updates are incomplete: walked every ``UNWATCHED_RESCAN_S`` instead."""
        self._unwatched = set(folder_ids)

    def close(self, timeout: float = 2.0) -> None:
        """Stop after the job in hand; a scan stuck on a hung mount is left behind (daemon thread)."""
        self._closed.set()
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout)

    # -- work ---------------------------------------------------------------------------------------------

    def _do(self, job: Callable[[Store], None]) -> None:
        if self._closed.is_set():
            return
        if self.threaded:
            self._jobs.put(job)
            return
        assert self._store is not None
        job(self._store)

    def _run(self) -> None:
        store: Store | None = None
        try:
            store = Store.open(self._db_path)
            while not self._closed.is_set():
                try:
                    job = self._jobs.get(timeout=PROBE_INTERVAL_S)
                except queue.Empty:
                    self._periodic(store)
                    continue
                if job is None:
                    break
                self._guarded(job, store)
        except XmrError as error:  # the core reports a store it cannot open itself
            log.warning("folder work stopped: %s", error)
        finally:
            if store is not None:
                store.close()

    def _guarded(self, job: Callable[[Store], None], store: Store) -> None:
        try:
            job(store)
        except XmrError as error:  # a busy or full disk: the next scan or probe tries again
            log.warning("folder work failed: %s", error)
        except Exception:  # noqa: BLE001  keep the thread alive; the traceback is in the log
            log.exception("folder work failed")

    def _scan(self, store: Store, folder: Folder) -> None:
        has_files = store.has_files(folder.id)
        problem = self._prober.problem(folder.path, has_files) if self.threaded else None
        if problem is not None:
            report = ScanReport(errors=[(folder.path, problem)], root_unavailable=True)
        else:
            report = sync_folder(store, folder)
        self._post(Scanned(folder, report))

    def _periodic(self, store: Store) -> None:
        for folder in store.folders():
            self._post(Availability(folder, self._prober.problem(folder.path, store.has_files(folder.id))))
        if self._unwatched and time.monotonic() - self._last_unwatched_scan >= UNWATCHED_RESCAN_S:
            self._last_unwatched_scan = time.monotonic()
            for folder in store.folders():
                if folder.id in self._unwatched:
                    self._guarded(lambda s, f=folder: self._scan(s, f), store)

    def _maintain(self, store: Store, check_integrity: bool) -> None:
        pruned = store.prune_embeddings()
        store.trim_changes()
        verdict = "skipped"
        if check_integrity:
            verdict = store.quick_check()
            if verdict == "ok":
                store.set_meta("last_integrity_check", f"{time.time():.0f}")
        self._post(Maintained(pruned, verdict))
