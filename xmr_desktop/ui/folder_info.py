"""What the folders panel shows about one indexed folder; produced by the worker, displayed by the GUI."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class FolderState(str, Enum):
    """A folder's state as the user sees it."""

    INDEXING = "indexing"
    UP_TO_DATE = "up to date"
    WAITING = "waiting for the model"
    PAUSED = "paused"
    OFFLINE = "offline"


@dataclass(frozen=True)
class FolderInfo:
    """One indexed folder with its counts for the current model.

    Attributes:
        path: absolute folder path.
        total: photos found in it.
        indexed: photos searchable with the current model.
        pending: photos still to index.
        skipped: files that could not be read as images.
        state: what the folder is doing.
        paused: indexing of this folder is paused by the user (the state may still say offline).
    """

    path: str
    total: int
    indexed: int
    pending: int
    skipped: int
    state: FolderState
    paused: bool = False
