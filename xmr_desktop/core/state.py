"""What the core tells its shells about itself: folders with counts and states, the model, taught names.

Plain frozen data, produced by the core and shown by the window or printed by the CLI; neither shell keeps a
copy of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class FolderState(str, Enum):
    """A folder's state as the user sees it."""

    INDEXING = "indexing"
    SCANNING = "scanning"
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
        note: a condition worth a line in the panel ("live updates off: …"), or "".
    """

    path: str
    total: int
    indexed: int
    pending: int
    skipped: int
    state: FolderState
    paused: bool = False
    note: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """The current model.

    Attributes:
        state: "none" (not asked for yet), "loading", "ready" or "failed".
        argument: what the user asked for (None: the default).
        name: its short name.
        model_id: its image space (the key of stored vectors), "" until known.
        device: where and in what it computes, "" until loaded.
        message: why it failed, "" otherwise.
    """

    state: str
    argument: str | None = None
    name: str = ""
    model_id: str = ""
    device: str = ""
    message: str = ""


@dataclass(frozen=True)
class ConceptInfo:
    """A taught name as typed and how many photos taught it."""

    name: str
    photos: int


@dataclass(frozen=True)
class LibraryStatus:
    """Everything ``xmr status`` prints and the window's status bar shows.

    Attributes:
        folders: every folder with counts for the current model.
        model: the current model.
        activity: "idle", "loading", "scanning", "indexing" or "paused".
        paths: where data lives (``data_dir``, ``index``, ``models_dir``, ``log_dir``, ``cache_dir``).
        served_by: "app" when a running window answered, "cli" when the command line opened the index itself.
    """

    folders: list[FolderInfo]
    model: ModelInfo
    activity: str
    paths: dict[str, str] = field(default_factory=dict)
    served_by: str = "cli"
