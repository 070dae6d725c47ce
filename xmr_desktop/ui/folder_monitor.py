"""Which indexed folders are watched and which are offline (an unplugged drive), for the indexing worker.

Qt-free; used only on the worker thread. Offline folders keep their index entries; they are not indexed
(their files would all look unreadable) and are rescanned when they come back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from xmr_desktop.library.scanner import ScanReport, root_problem
from xmr_desktop.library.store import Store
from xmr_desktop.library.watcher import Changes
from xmr_desktop.ui.folder_info import FolderInfo, FolderState

log = logging.getLogger(__name__)

WatcherFactory = Callable[[Callable[[Changes], None]], Any]


def folder_available(path: str, has_files: bool) -> bool:
    """Whether a sweep of ``path`` could be trusted: the scanner's own rule (an unmounted mount point reads as empty)."""
    return root_problem(path, has_files) is None


class FolderMonitor:
    """Watches folders through a ``FolderWatcher`` (or none) and tracks which ones are offline.

    Attributes:
        offline: paths of folders that cannot be reached right now.
    """

    def __init__(self, watcher_factory: WatcherFactory | None, on_changes: Callable[[Changes], None]) -> None:
        self.offline: set[str] = set()
        self._watcher = watcher_factory(on_changes) if watcher_factory is not None else None
        self._has_files: dict[str, bool] = {}

    def watch(self, path: str) -> None:
        if self._watcher is not None and not self._watcher.watch(path) and not os.path.isdir(path):
            self.offline.add(path)

    def forget(self, path: str) -> None:
        if self._watcher is not None:
            self._watcher.unwatch(path)
        self.offline.discard(path)
        self._has_files.pop(path, None)

    def scanned(self, path: str, report: ScanReport) -> None:
        """Update the offline mark from a scan; a folder that is back gets a fresh watch."""
        if report.root_unavailable:
            self.offline.add(path)
        elif path in self.offline:
            self.offline.discard(path)
            if self._watcher is not None:
                self._watcher.rewatch(path)

    def check(self, paths: Iterable[str]) -> tuple[list[str], list[str]]:
        """Look at every folder: ``(went offline, came back)``; the caller rescans those that came back."""
        gone, back = [], []
        for path in paths:
            online = folder_available(path, self._has_files.get(path, True))
            if online and path in self.offline:
                log.info("%s is reachable again", path)
                back.append(path)
            elif not online and path not in self.offline:
                log.info("%s is offline", path)
                self.offline.add(path)
                gone.append(path)
        return gone, back

    def infos(self, store: Store, model_id: str, scanning: set[str], indexing: bool | None) -> list[FolderInfo]:
        """Every folder with its counts and state; ``indexing`` is None while no model is loaded, False if paused."""
        infos = []
        for folder in store.folders():
            counts = store.counts(model_id, folder.id)
            self._has_files[folder.path] = counts.total > 0
            if folder.path in self.offline:
                state = FolderState.OFFLINE
            elif folder.paused or (indexing is False and counts.pending):
                state = FolderState.PAUSED
            elif counts.pending == 0 and folder.path not in scanning:
                state = FolderState.UP_TO_DATE
            else:
                state = FolderState.INDEXING if indexing else FolderState.WAITING
            infos.append(
                FolderInfo(folder.path, counts.total, counts.indexed, counts.pending, counts.skipped, state, folder.paused)
            )
        return infos

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
