"""The typed events a ``PhotoLibrary`` emits to its listeners (the window's adapter, the local socket).

Listeners are called on the core's worker thread (or the caller's, in inline mode) and must return quickly;
the window's adapter queues them to the GUI thread and throttles them.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmr_desktop.core.runs import IndexProgress, IndexReport
from xmr_desktop.core.state import ConceptInfo, FolderInfo, ModelInfo


class Event:
    """Base of every event."""


@dataclass(frozen=True)
class ModelChanged(Event):
    """The model started loading, is ready (searches queued meanwhile run now), or failed."""

    model: ModelInfo


@dataclass(frozen=True)
class ModelPreparing(Event):
    """The model is being prepared for this computer before it can load: the one-time LiteRT export (tens of
    seconds for ViT-B/32), after a download or at the first load of a model that has none yet.

    Attributes:
        argument: the model as asked for (None: the default).
        name: its short name.
        stage: what runs now ("converting the image tower (float32)", …).
        fraction: how far the whole preparation is, 0 to 1.
    """

    argument: str | None
    name: str
    stage: str
    fraction: float


@dataclass(frozen=True)
class ActivityChanged(Event):
    """What the core is doing: "idle", "loading", "scanning", "indexing" or "paused"."""

    activity: str


@dataclass(frozen=True)
class IndexingProgress(Event):
    """Totals of the current run, after every committed batch."""

    progress: IndexProgress


@dataclass(frozen=True)
class BatchCommitted(Event):
    """A batch was committed: its photos are searchable now."""

    embedded: int
    reused: int
    skipped: int


@dataclass(frozen=True)
class FilesSkipped(Event):
    """Photos that could not be indexed in the last batch, ``(path, reason)`` each."""

    files: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class IndexingFinished(Event):
    """A run that did something ended with nothing left to do."""

    report: IndexReport


@dataclass(frozen=True)
class FoldersChanged(Event):
    """Folders with their counts and states, after anything changed them."""

    folders: tuple[FolderInfo, ...]


@dataclass(frozen=True)
class SearchableChanged(Event):
    """What search can find changed (a batch, deletions, a removed folder, another process's writes)."""


@dataclass(frozen=True)
class ConceptsChanged(Event):
    """The names taught for the current model."""

    concepts: tuple[ConceptInfo, ...]


@dataclass(frozen=True)
class OcrChanged(Event):
    """What is read for text in photos: ``mode`` "off", "documents" or "all"; ``problem`` says why that
    cannot happen here (Tesseract missing) or is ""."""

    mode: str
    problem: str = ""


@dataclass(frozen=True)
class Problem(Event):
    """Something the user should know about. ``retrying``: the core tries again by itself (a busy index, a
    full disk), so the window shows it in the status bar rather than in a dialog; ``fatal``: nothing works
    until it is fixed (the index cannot be opened)."""

    message: str
    retrying: bool = False
    fatal: bool = False


@dataclass(frozen=True)
class DuplicatesProgress(Event):
    """A ``FindDuplicates`` of ``channel`` is at ``stage`` ("reading", "comparing", "hashing", "grouping"),
    ``done`` of ``total`` (rows compared, photos hashed; 0 of 0 when not counted)."""

    stage: str
    done: int
    total: int
    channel: str | None = None


@dataclass(frozen=True)
class PhotosTrashed(Event):
    """These photos went to the system trash and left the index."""

    paths: tuple[str, ...]
