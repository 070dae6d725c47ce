"""Live watching of indexed folders: filesystem events debounced into batches of changed paths.

Qt-free. ``FolderWatcher`` wraps a watchdog observer; events are reduced to three sets (files changed, files
deleted, roots to rescan) and handed to a callback once the burst has been quiet for ``debounce`` seconds, or
at the latest ``max_wait`` seconds after its first event, so a camera import of thousands of files arrives as
a few batches instead of thousands of callbacks. ``apply_changes`` brings the store in line with one batch
(stat-only, per path), the same way the scanner would, without walking whole folders.

Watching can be incomplete: inotify has a per-user limit of watches (one per directory), and watchdog skips
the subdirectories it cannot watch without a word. ``watch`` returns a ``WatchStatus`` saying so ("live
updates off (raise fs.inotify.max_user_watches)"), so the folder can be shown that way and rescanned
periodically instead. When the kernel's event queue overflows, events were lost: every root is put in the
next batch's ``rescan``. Only the event types the handler uses are subscribed to, so reading photos (the
indexer's own opens and closes) generates no events at all.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from xmr_desktop.library.scanner import SKIPPED_DIR_NAMES, image_extensions
from xmr_desktop.library.watch_limits import (
    LIVE_UPDATES_OFF,
    OVERFLOWS,
    WatchStatus,
    inotify_limit_problem,
    is_inotify,
)
from xmr_desktop.library.store import Folder, Store

log = logging.getLogger(__name__)

DEBOUNCE_S = 1.0
MAX_WAIT_S = 5.0

# What _RootHandler acts on. Opens, reads and closes without writing (the indexer reading photos) are left
# out, so the kernel does not even queue them.
WATCHED_EVENTS: tuple[type[FileSystemEvent], ...] = (
    FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
)

@dataclass
class Changes:
    """One debounced batch of filesystem changes.

    Attributes:
        changed: photo files created, modified or moved into place (absolute paths).
        deleted: photo files deleted or moved away.
        rescan: watched roots whose tree changed in ways that need a walk (a directory created, moved or
            deleted, the root itself gone or back).
    """

    changed: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    rescan: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.changed or self.deleted or self.rescan)

    def merge(self, other: Changes) -> None:
        """Fold a later batch into this one; the later event for a path wins."""
        self.changed = (self.changed - other.deleted) | other.changed
        self.deleted = (self.deleted - other.changed) | other.deleted
        self.rescan |= other.rescan

    def file_changed(self, path: str) -> None:
        self.deleted.discard(path)
        self.changed.add(path)

    def file_deleted(self, path: str) -> None:
        self.changed.discard(path)
        self.deleted.add(path)


def is_photo_path(path: str, root: str) -> bool:
    """Whether the scanner would index ``path`` under ``root``: photo extension, no hidden or skipped part."""
    if os.path.splitext(path)[1].lower() not in image_extensions():
        return False
    relative = os.path.relpath(path, root)
    if relative.startswith(os.pardir):
        return False
    return not any(part.startswith(".") or part.lower() in SKIPPED_DIR_NAMES for part in relative.split(os.sep))


class _RootHandler(FileSystemEventHandler):
    """Turns the events under one watched root into ``Changes`` entries."""

    def __init__(
        self, root: str, sink: Callable[[Callable[[Changes], None]], None],
        on_new_directory: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self._sink = sink
        self._on_new_directory = on_new_directory

    def on_any_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        if isinstance(event, (DirCreatedEvent, DirDeletedEvent, DirMovedEvent)):
            # Files inside a created or moved-in directory may predate the watch on it: walk the root.
            self._sink(lambda c: c.rescan.add(self.root))
            if self._on_new_directory is not None and not isinstance(event, DirDeletedEvent):
                self._on_new_directory(self.root)  # its watch may have hit the limit
        elif isinstance(event, FileMovedEvent):
            dest = os.fsdecode(event.dest_path)
            self._sink(lambda c: self._moved(c, src, dest))
        elif isinstance(event, FileDeletedEvent):
            if is_photo_path(src, self.root):
                self._sink(lambda c: c.file_deleted(src))
        elif isinstance(event, (FileCreatedEvent, FileModifiedEvent, FileClosedEvent)):
            if is_photo_path(src, self.root):
                self._sink(lambda c: c.file_changed(src))

    def _moved(self, changes: Changes, src: str, dest: str) -> None:
        if is_photo_path(src, self.root):
            changes.file_deleted(src)
        if is_photo_path(dest, self.root):
            changes.file_changed(dest)


class FolderWatcher:
    """Watches folder trees and reports debounced ``Changes`` to ``on_changes`` (called on its own thread).

    Attributes:
        debounce: seconds of quiet that end a burst.
        max_wait: a burst that never quiets down is still delivered this long after its first event.
    """

    def __init__(
        self,
        on_changes: Callable[[Changes], None],
        *,
        debounce: float = DEBOUNCE_S,
        max_wait: float = MAX_WAIT_S,
        observer_factory: Callable[[], Any] = Observer,
        on_status: Callable[[WatchStatus], None] | None = None,
        limit_probe: Callable[[str], str | None] | None = None,
    ) -> None:
        self.debounce = debounce
        self.max_wait = max_wait
        self._on_changes = on_changes
        self._on_status = on_status
        self._observer = observer_factory()
        self._observer.daemon = True
        # Only an inotify observer has a watch limit to run into (macOS FSEvents and Windows watch trees whole).
        self._limit_probe = limit_probe if limit_probe is not None else (
            inotify_limit_problem if is_inotify(self._observer) else None
        )
        self._watches: dict[str, Any] = {}
        self._status: dict[str, WatchStatus] = {}
        self._pending = Changes()
        self._first_event = 0.0
        self._last_event = 0.0
        self._wake = threading.Condition()
        self._stopped = False
        self._observer.start()
        self._flusher = threading.Thread(target=self._flush_loop, name="xmr-watch-flush", daemon=True)
        self._flusher.start()
        OVERFLOWS.subscribe(self._events_lost)

    @property
    def roots(self) -> list[str]:
        return sorted(self._watches)

    def watch(self, root: str) -> WatchStatus:
        """Start watching ``root`` recursively and say how complete the watch is (see ``WatchStatus``)."""
        root = os.path.abspath(root)
        if root in self._watches:
            return self._status[root]
        handler = _RootHandler(root, self._add, self._check_limit if self._limit_probe is not None else None)
        try:
            self._watches[root] = self._observer.schedule(handler, root, recursive=True, event_filter=list(WATCHED_EVENTS))
        except OSError as error:  # missing folder, or inotify's limit reached at the root itself
            log.warning("cannot watch %s: %s", root, error)
            limited = error.errno in (errno.ENOSPC, errno.EMFILE)
            status = WatchStatus(root, "off", LIVE_UPDATES_OFF if limited else (error.strerror or str(error)))
            self._status.pop(root, None)
            return status
        self._status[root] = WatchStatus(root, "watching")
        self._check_limit(root)
        log.info("watching %s", root)
        return self._status[root]

    def status(self, root: str) -> WatchStatus:
        """The current status of ``root`` (``"off"`` if it is not watched)."""
        root = os.path.abspath(root)
        return self._status.get(root, WatchStatus(root, "off", "not watched"))

    def unwatch(self, root: str) -> None:
        """Stop watching ``root``; unknown roots are ignored."""
        self._status.pop(os.path.abspath(root), None)
        watch = self._watches.pop(os.path.abspath(root), None)
        if watch is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError) as error:  # the emitter already died with its folder
                log.debug("unwatching %s: %s", root, error)

    def rewatch(self, root: str) -> WatchStatus:
        """Drop and re-create the watch of a root that went away and came back (or whose watch was incomplete)."""
        self.unwatch(root)
        return self.watch(root)

    def flush(self) -> None:
        """Deliver what is pending now instead of waiting for the burst to end."""
        with self._wake:
            self._first_event = self._last_event = -1e9
            self._wake.notify()

    def stop(self) -> None:
        """Stop watching and drop pending changes; safe to call twice."""
        with self._wake:
            if self._stopped:
                return
            self._stopped = True
            self._wake.notify()
        OVERFLOWS.unsubscribe(self._events_lost)
        self._observer.stop()
        self._observer.join(timeout=2)
        self._flusher.join(timeout=2)

    def _check_limit(self, root: str) -> None:
        """Mark ``root`` incomplete if the watch limit is reached now (some of its folders went unwatched)."""
        if self._limit_probe is None or root not in self._status or not self._status[root].complete:
            return
        problem = self._limit_probe(root)
        if problem is not None:
            log.warning("watching %s is incomplete: %s", root, problem)
            self._set_status(WatchStatus(root, "incomplete", problem))

    def _set_status(self, status: WatchStatus) -> None:
        self._status[status.root] = status
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:  # a failing consumer must not end watching
                log.exception("reporting the watch status of %s failed", status.root)

    def _events_lost(self) -> None:
        """The kernel dropped events (queue overflow): every root needs a walk; watchdog re-adds the watches."""
        roots = list(self._watches)
        if roots:
            self._add(lambda c: c.rescan.update(roots))
        for root in roots:
            self._check_limit(root)

    def _add(self, update: Callable[[Changes], None]) -> None:
        with self._wake:
            now = time.monotonic()
            if not self._pending:
                self._first_event = now
            self._last_event = now
            update(self._pending)
            self._wake.notify()

    def _flush_loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopped:
                    if self._pending:
                        now = time.monotonic()
                        due = min(self._last_event + self.debounce, self._first_event + self.max_wait)
                        if now >= due:
                            break
                        self._wake.wait(due - now)
                    else:
                        self._wake.wait()
                if self._stopped:
                    return
                batch, self._pending = self._pending, Changes()
            try:
                self._on_changes(batch)
            except Exception:  # a failing consumer must not end watching for the whole session
                log.exception("handling %d changed and %d deleted paths failed", len(batch.changed), len(batch.deleted))


@dataclass
class AppliedChanges:
    """What ``apply_changes`` did: files marked pending, rows removed, and the folders affected."""

    updated: int = 0
    removed: int = 0
    folder_ids: set[int] = field(default_factory=set)
    rescan: list[Folder] = field(default_factory=list)


def owning_folder(path: str, folders: Iterable[Folder]) -> Folder | None:
    """The innermost indexed folder containing ``path`` (folders may nest)."""
    best: Folder | None = None
    for folder in folders:
        prefix = folder.path.rstrip(os.sep) + os.sep
        if (path == folder.path or path.startswith(prefix)) and (best is None or len(folder.path) > len(best.path)):
            best = folder
    return best


def apply_changes(store: Store, changes: Changes) -> AppliedChanges:
    """Record a batch in the store: changed files become pending (unless size and mtime match), deleted go.

    Roots in ``changes.rescan`` are only looked up and returned; the caller walks them with ``sync_folder``.
    A changed path that is gone again by now counts as deleted.
    """
    applied = AppliedChanges()
    folders = store.folders()
    by_folder: dict[int, list[tuple[str, int, int]]] = {}
    deleted = set(changes.deleted)
    for path in sorted(changes.changed):
        folder = owning_folder(path, folders)
        if folder is None:
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            deleted.add(path)
            continue
        except OSError as error:
            log.debug("cannot stat %s: %s", path, error)
            continue
        if os.path.isfile(path):
            by_folder.setdefault(folder.id, []).append((path, st.st_size, st.st_mtime_ns))
    for folder_id, found in by_folder.items():
        known = store.file_stats(folder_id)
        fresh = [item for item in found if known.get(item[0], (0, -1, -1))[1:] != item[1:]]
        if fresh:
            store.record_scan(folder_id, fresh, [])
            applied.updated += len(fresh)
            applied.folder_ids.add(folder_id)
    if deleted:
        applied.removed = store.remove_paths(sorted(deleted))
        for path in deleted:
            folder = owning_folder(path, folders)
            if folder is not None:
                applied.folder_ids.add(folder.id)
    for root in changes.rescan:
        folder = next((f for f in folders if f.path == root), None)
        if folder is not None:
            applied.rescan.append(folder)
            applied.folder_ids.add(folder.id)
    return applied
