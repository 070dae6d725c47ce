"""The typed commands a ``PhotoLibrary`` takes; the window, the CLI and the local socket all speak these.

Each command's answer comes back through one channel, a ``concurrent.futures.Future``: its result (the type
named in the docstring) or the ``XmrError`` whose message is for the user. Commands are plain frozen data, so
they cross threads and the local socket unchanged (``core/protocol.py`` turns them into JSON).
"""

from __future__ import annotations

from dataclasses import dataclass


class Command:
    """Base of every command (for isinstance checks and the protocol's registry)."""


@dataclass(frozen=True)
class Search(Command):
    """Best ``top_k`` photos for a query in xmr's syntax -> ``list[SearchResult]``.

    ``channel`` names who asks (the window's search box): a newer search on the same channel makes an older
    one still waiting in the queue pointless, and it is cancelled unrun.
    """

    query: str
    folder: str | None = None
    top_k: int = 20
    channel: str | None = None


@dataclass(frozen=True)
class FindSimilar(Command):
    """Photos that look like the image at ``image_path`` (indexed or not; itself left out) -> ``list[SearchResult]``."""

    image_path: str
    folder: str | None = None
    top_k: int = 20
    channel: str | None = None


@dataclass(frozen=True)
class AddFolder(Command):
    """Index a folder (watched from now on) -> ``AddedFolder``; folders inside it are absorbed."""

    path: str


@dataclass(frozen=True)
class RemoveFolder(Command):
    """Forget a folder and its photos -> ``int`` (photos forgotten); their vectors are kept for a grace period."""

    path: str


@dataclass(frozen=True)
class PauseFolder(Command):
    """Pause or resume indexing one folder -> ``None`` (its photos stay searchable)."""

    path: str
    paused: bool


@dataclass(frozen=True)
class PauseIndexing(Command):
    """Pause or resume all indexing -> ``None``; searches, scans and watching go on."""

    paused: bool


@dataclass(frozen=True)
class Rescan(Command):
    """Walk these folders (empty: all) and index what changed -> ``None``."""

    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndexNow(Command):
    """Add ``paths`` as folders (empty: every known folder), scan them and index until nothing is pending
    -> ``IndexReport``. Progress arrives as events meanwhile."""

    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeachConcept(Command):
    """Teach ``name`` from a few photos -> ``ConceptInfo``; searches use it from now on."""

    name: str
    photos: tuple[str, ...]


@dataclass(frozen=True)
class ForgetConcept(Command):
    """Forget a taught name -> ``None``."""

    name: str


@dataclass(frozen=True)
class ListConcepts(Command):
    """The names taught for the current model's image space -> ``list[ConceptInfo]``."""


@dataclass(frozen=True)
class LoadModel(Command):
    """Load (or switch to) the model named by ``argument`` (None: the default) -> ``ModelInfo``."""

    argument: str | None = None


@dataclass(frozen=True)
class GetStatus(Command):
    """Folders with their counts, the model, the device and where data lives -> ``LibraryStatus``."""


@dataclass(frozen=True)
class ListSkipped(Command):
    """Files that could not be indexed -> ``list[tuple[str, str]]`` of (path, reason), by path."""
