"""What the index holds, as the rest of the app sees it: folders, file records, counts, batch entries."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


@dataclass(frozen=True)
class Folder:
    """An indexed folder; ``path`` is absolute, ``paused`` folders are skipped by ``Store.pending``."""

    id: int
    path: str
    added_at: float
    paused: bool


@dataclass(frozen=True)
class FileRecord:
    """One photo file. ``state`` is 'pending' (hash unknown), 'ok' (decodable, hashed) or 'skipped'."""

    id: int
    folder_id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: bytes | None
    state: str
    skip_reason: str | None
    width: int
    height: int


@dataclass(frozen=True)
class FolderCounts:
    """Files per state for one model: ``pending`` counts everything neither indexed nor skipped."""

    indexed: int
    skipped: int
    pending: int
    total: int

    def __add__(self, other: FolderCounts) -> FolderCounts:
        return FolderCounts(
            self.indexed + other.indexed, self.skipped + other.skipped, self.pending + other.pending,
            self.total + other.total,
        )


EMPTY_COUNTS = FolderCounts(0, 0, 0, 0)


@dataclass(frozen=True)
class AddedFolder:
    """The outcome of adding a folder: the folder, and the folders inside it that it absorbed (their photos
    now belong to it; each photo has exactly one owning folder)."""

    folder: Folder
    absorbed: list[str] = field(default_factory=list)
    created: bool = True


class Embedded(NamedTuple):
    """One photo of a batch that was read: the version (size, mtime) that was hashed, its hash and pixel size,
    and its vector, or None when a vector for that hash is already stored."""

    file_id: int
    size: int
    mtime_ns: int
    content_hash: bytes
    width: int
    height: int
    vector: np.ndarray | None


class Skipped(NamedTuple):
    """One photo of a batch that cannot be indexed, for the version (size, mtime) that was tried."""

    file_id: int
    size: int
    mtime_ns: int
    reason: str


@dataclass(frozen=True)
class CommitOutcome:
    """What ``commit_batch`` wrote. ``stale`` lists rows that changed on disk (or went) after they were read:
    nothing was recorded for them and they stay pending for their new version."""

    committed: list[int]
    stale: list[int]


FILE_COLUMNS = (
    "f.id, f.folder_id, f.path, f.size, f.mtime_ns, f.content_hash, f.state, f.skip_reason, f.width, f.height"
)


def file_record(row: Sequence[Any]) -> FileRecord:
    return FileRecord(row[0], row[1], os.fsdecode(row[2]), row[3], row[4], row[5], row[6], row[7], row[8], row[9])


def folder_record(row: Sequence[Any]) -> Folder:
    return Folder(row[0], os.fsdecode(row[1]), row[2], bool(row[3]))
