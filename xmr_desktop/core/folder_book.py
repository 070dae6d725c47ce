"""The core's knowledge of its folders: counts kept up to date incrementally, and each folder's condition.

Counts are read from the store once (at start, after a model switch) and for one folder after something
walked it (a scan, watched changes); every committed batch then moves them by its own deltas, so indexing a
million photos never recounts them. Conditions (offline, scanning, paused, watch incomplete) are set by the
core as it learns them. Used on the core's worker thread only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from xmr_desktop.core.state import FolderInfo, FolderState
from xmr_desktop.library.pipeline import FolderDelta
from xmr_desktop.library.store import Folder, FolderCounts, Store

_EMPTY = FolderCounts(0, 0, 0, 0)


@dataclass
class _Entry:
    folder: Folder
    counts: FolderCounts = _EMPTY
    offline: bool = False
    scanning: bool = False
    removing: bool = False
    note: str = ""


class FolderBook:
    """Folders by id with their counts for the current model and their conditions."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}

    def load(self, store: Store, model_id: str) -> None:
        """(Re)read every folder and its counts for ``model_id``; conditions of known folders are kept."""
        folders = store.folders()
        counts = store.folder_counts(model_id)
        old = self._entries
        self._entries = {}
        for folder in folders:
            entry = old.get(folder.id) or _Entry(folder)
            entry.folder = folder
            entry.counts = counts.get(folder.id, _EMPTY)
            self._entries[folder.id] = entry

    def recount(self, store: Store, model_id: str, folder_ids: Iterable[int]) -> None:
        ids = [i for i in folder_ids if i in self._entries]
        if not ids:
            return
        counts = store.folder_counts(model_id, ids)
        for folder_id in ids:
            self._entries[folder_id].counts = counts.get(folder_id, _EMPTY)

    def apply(self, deltas: dict[int, FolderDelta]) -> None:
        """Move counts by a committed batch: each photo left 'pending' for 'indexed' or 'skipped'."""
        for folder_id, delta in deltas.items():
            entry = self._entries.get(folder_id)
            if entry is None:
                continue
            c = entry.counts
            moved = delta.indexed + delta.skipped
            entry.counts = FolderCounts(c.indexed + delta.indexed, c.skipped + delta.skipped, max(0, c.pending - moved), c.total)

    def add(self, folder: Folder) -> None:
        self._entries.setdefault(folder.id, _Entry(folder))

    def remove(self, folder_id: int) -> None:
        self._entries.pop(folder_id, None)

    def by_path(self, path: str) -> Folder | None:
        return next((e.folder for e in self._entries.values() if e.folder.path == path), None)

    def folders(self) -> list[Folder]:
        return [e.folder for e in self._entries.values()]

    def set_paused(self, folder_id: int, paused: bool) -> None:
        if folder_id in self._entries:
            entry = self._entries[folder_id]
            entry.folder = replace(entry.folder, paused=paused)

    def set_condition(self, folder_id: int, **condition: object) -> bool:
        """Set ``offline``, ``scanning``, ``removing`` or ``note``; True if anything changed."""
        entry = self._entries.get(folder_id)
        if entry is None:
            return False
        changed = False
        for key, value in condition.items():
            if getattr(entry, key) != value:
                setattr(entry, key, value)
                changed = True
        return changed

    def is_offline(self, folder_id: int) -> bool:
        entry = self._entries.get(folder_id)
        return entry is not None and entry.offline

    def indexable_ids(self) -> set[int]:
        """Folders whose pending photos may be read now: not paused, not offline, not being removed."""
        return {i for i, e in self._entries.items() if not (e.folder.paused or e.offline or e.removing)}

    def infos(self, *, model_ready: bool, indexing_paused: bool) -> list[FolderInfo]:
        infos = []
        for entry in sorted(self._entries.values(), key=lambda e: e.folder.path):
            c = entry.counts
            if entry.offline:
                state = FolderState.OFFLINE
            elif entry.folder.paused or (indexing_paused and c.pending):
                state = FolderState.PAUSED
            elif entry.scanning:
                state = FolderState.SCANNING
            elif c.pending == 0:
                state = FolderState.UP_TO_DATE
            else:
                state = FolderState.INDEXING if model_ready else FolderState.WAITING
            infos.append(
                FolderInfo(entry.folder.path, c.total, c.indexed, c.pending, c.skipped, state, entry.folder.paused, entry.note)
            )
        return infos
