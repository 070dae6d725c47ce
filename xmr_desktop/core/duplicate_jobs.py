"""Finding duplicates off the search path, and moving the confirmed ones to the trash.

At 100k photos a search for duplicates takes seconds (the pair search is a few large matrix products, then the
photos of candidate pairs are hashed), far longer than a search may wait. So in threaded mode (the app) it runs
on an ``xmr-duplicates`` thread of its own with its own store connection, and the core's worker goes on serving
searches and indexing. A thread rather than slices between indexing batches: the work is a handful of numpy
and faiss calls that release the GIL and cannot be cut into pieces of one batch's length without splitting the
pair search itself, and a connection of its own keeps SQLite's one-connection-per-thread rule (it reads in one
snapshot and writes the new perceptual hashes in one short transaction at the end). Inline mode (the CLI,
tests) runs the same job on the caller's thread with the core's connection.

The groups found are remembered (the last few searches, by folder): ``TrashPhotos`` may only move photos of
groups found, and never a group's last photo that is still on disk.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core.duplicate_state import (
    DuplicateGroupInfo,
    DuplicatesFound,
    TrashedPhotos,
)
from xmr_desktop.errors import XmrError
from xmr_desktop.library.store import Store

log = logging.getLogger(__name__)

# Searches whose groups TrashPhotos accepts (the window's view and a command line may have asked for different
# folders at about the same time).
REMEMBERED = 4
# Progress events at most this often (the window shows them; the bridge coalesces them anyway).
PROGRESS_EVERY_S = 0.1


class DuplicatesCancelled(XmrError):
    """A search for duplicates was cancelled (by ``CancelDuplicates``, a newer request or the app closing)."""


@dataclass
class _Job:
    command: c.FindDuplicates
    folder: str | None
    model_id: str
    future: Future[Any]
    cancelled: threading.Event = field(default_factory=threading.Event)
    last_progress: float = 0.0
    last_stage: str = ""


class DuplicateJobs:
    """Runs ``FindDuplicates`` (see the module docstring) and checks ``TrashPhotos`` against what it found.

    Attributes:
        threaded: whether jobs run on a thread of their own.
    """

    def __init__(self, db_path: Path, emit: Callable[[e.Event], None], *, threaded: bool) -> None:
        self.threaded = threaded
        self._db_path = db_path
        self._emit = emit
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._active: list[_Job] = []  # queued or running
        self._lock = threading.Lock()
        self._found: OrderedDict[str | None, list[Any]] = OrderedDict()  # folder -> library DuplicateGroups
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- requests (the core's worker thread) -------------------------------------------------------------------

    def find(self, command: c.FindDuplicates, folder: str | None, model_id: str, future: Future[Any], store: Store) -> None:
        """Start a search; ``future`` gets the ``DuplicatesFound``. ``store`` is used in inline mode only."""
        job = _Job(command, folder, model_id, future)
        with self._lock:
            if command.channel is not None:
                for older in self._active:
                    if older.command.channel == command.channel:
                        older.cancelled.set()
            self._active.append(job)
        if not self.threaded:
            self._serve(job, store)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="xmr-duplicates", daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def cancel(self, channel: str | None) -> int:
        """Stop the searches of ``channel`` (None: all); returns how many were queued or running."""
        with self._lock:
            stopped = [job for job in self._active if channel is None or job.command.channel == channel]
        for job in stopped:
            job.cancelled.set()
        return len(stopped)

    def groups(self) -> list[Any]:
        """Every group of the remembered searches (library ``DuplicateGroup``s)."""
        with self._lock:
            return [group for groups in self._found.values() for group in groups]

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what runs (it stops at its next step) and end the thread."""
        self._closed = True
        self.cancel(None)
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the search for duplicates did not stop within %.0f s", timeout)

    # -- trash ---------------------------------------------------------------------------------------------------

    def trash(self, store: Store, command: c.TrashPhotos) -> TrashedPhotos:
        """Move ``command.paths`` to the system trash and drop their rows from the index (one store call).

        Raises ``RemovalError`` before anything moves: not confirmed, nothing found yet, a photo that is not in a
        group found, or a group that would keep no photo still on disk.
        """
        from xmr_desktop.library.trash import RemovalError, move_to_trash

        if not command.confirmed:
            raise RemovalError("nothing was moved to the trash: removing duplicates needs confirmation")
        groups = self.groups()
        if not groups:
            raise RemovalError("nothing was moved to the trash: find duplicates first (only photos of the groups found can go)")
        chosen = set(command.paths)
        for group in groups:
            others = [p for p in group.paths if p not in chosen]
            # All of a group chosen is refused by move_to_trash itself; here: the photos it would keep are gone.
            if others and len(others) < len(group.paths) and not any(os.path.isfile(p) for p in others):
                raise RemovalError(
                    f"nothing was moved to the trash: the photos kept of the group of {group.keeper.path} are no longer on disk"
                )
        forgotten: list[int] = []
        report = move_to_trash(
            list(command.paths), groups=groups, confirmed=True, on_removed=lambda moved: forgotten.append(store.remove_paths(moved))
        )
        self._forget(set(report.trashed))
        return TrashedPhotos(report.trashed, report.failed, sum(forgotten))

    def _forget(self, trashed: set[str]) -> None:
        """Trashed photos leave the remembered groups; a group left with one photo is no group any more."""
        if not trashed:
            return
        from xmr_desktop.library.duplicates import DuplicateGroup

        with self._lock:
            for folder, groups in self._found.items():
                kept = []
                for group in groups:
                    members = tuple(m for m in group.members if m.photo.path not in trashed)
                    if len(members) > 1:
                        kept.append(group if len(members) == len(group.members) else DuplicateGroup(group.level, members, group.keeper_reason))
                self._found[folder] = kept

    # -- the work ------------------------------------------------------------------------------------------------

    def _run(self) -> None:
        store: Store | None = None
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    break
                if store is None and not job.cancelled.is_set():
                    try:
                        store = Store.open(self._db_path)
                    except XmrError as error:
                        self._finish(job, error=error)
                        continue
                self._serve(job, store)  # type: ignore[arg-type]
        finally:
            if store is not None:
                store.close()

    def _serve(self, job: _Job, store: Store) -> None:
        try:
            if job.cancelled.is_set():
                raise DuplicatesCancelled("Looking for duplicates was cancelled.")
            found = self._search(job, store)
        except XmrError as error:
            self._finish(job, error=error)
        except Exception as error:  # keep the thread alive; the traceback is in the log
            log.exception("looking for duplicates failed")
            self._finish(job, error=XmrError(f"Looking for duplicates failed ({type(error).__name__}: {error})."))
        else:
            self._finish(job, result=found)

    def _finish(self, job: _Job, *, result: DuplicatesFound | None = None, error: XmrError | None = None) -> None:
        with self._lock:
            if job in self._active:
                self._active.remove(job)
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    def _search(self, job: _Job, store: Store) -> DuplicatesFound:
        from xmr_desktop.library.duplicates import find_duplicates
        from xmr_desktop.library.hash_cache import HashCache, save
        from xmr_desktop.library.indexed_photos import read_photos
        from xmr_desktop.library.photo_hash import PerceptualHasher

        started = time.monotonic()
        self._progress(job, "reading", 0, 0)
        indexed = read_photos(store, job.model_id, job.folder)
        cache = HashCache(store.connection, indexed.hash_keys)
        hasher = PerceptualHasher(cache)
        try:
            groups = find_duplicates(
                indexed.photos, indexed.vectors, hasher=hasher,
                on_progress=lambda stage, done, total: self._progress(job, stage, done, total),
            )
        finally:
            # Kept even when cancelled: the photos hashed so far need no decoding next time.
            self._save_hashes(store, cache.new, prune=job.folder is None and not job.cancelled.is_set(), save=save)
        with self._lock:
            self._found[job.folder] = groups
            self._found.move_to_end(job.folder)
            while len(self._found) > REMEMBERED:
                self._found.popitem(last=False)
        seconds = time.monotonic() - started
        log.info("duplicates: %d groups among %d photos in %.1f s (%d decoded)", len(groups), len(indexed.photos), seconds, hasher.decoded)
        return DuplicatesFound(
            tuple(DuplicateGroupInfo.from_json(g.to_json()) for g in groups), len(indexed.photos), hasher.decoded,
            round(seconds, 3), job.folder,
        )

    def _save_hashes(self, store: Store, rows: dict[bytes, Any], *, prune: bool, save: Callable[..., int]) -> None:
        if not rows and not prune:
            return
        try:
            with store.transaction() as conn:
                save(conn, rows, prune=prune)
        except XmrError as error:  # a busy or full index only costs decoding them again next time
            log.warning("perceptual hashes not kept: %s", error)

    def _progress(self, job: _Job, stage: str, done: int, total: int) -> None:
        """Tell the shells (throttled), and stop here if the job was cancelled."""
        if job.cancelled.is_set():
            raise DuplicatesCancelled("Looking for duplicates was cancelled.")
        now = time.monotonic()
        if stage == job.last_stage and done != total and now - job.last_progress < PROGRESS_EVERY_S:
            return
        job.last_stage, job.last_progress = stage, now
        self._emit(e.DuplicatesProgress(stage, done, total, job.command.channel))
