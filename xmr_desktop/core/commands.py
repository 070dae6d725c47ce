"""The typed commands a ``PhotoLibrary`` takes; the window, the CLI and the local socket all speak these.

Each command's answer comes back through one channel, a ``concurrent.futures.Future``: its result (the type
named in the docstring) or the ``XmrError`` whose message is for the user. Commands are plain frozen data, so
they cross threads and the local socket unchanged (``core/protocol.py`` turns them into JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xmr_desktop.search.answer import SearchFilters

# Which text tower answers a query term (search/language.py has the rule; repeated here because the command
# line's path to a running app imports no numpy): ``auto`` per term, ``en`` CLIP's own, ``multi`` the
# multilingual tower of a multilingual model.
LANGUAGES = ("auto", "en", "multi")


class Command:
    """Base of every command (for isinstance checks and the protocol's registry)."""


@dataclass(frozen=True)
class Search(Command):
    """Best ``top_k`` photos for a query in xmr's syntax -> ``SearchAnswer`` (the results and how the query
    was read: dates, places, cameras and types in it become filters, the rest is searched by meaning and by
    words).

    ``literal``: spans of ``query`` to take as plain words (chips the user removed). ``filters``: explicit
    filters on top of the query's. ``sort``: "relevance" or "date" (the best matches, the strong ones newest
    taken first, then the weak ones). ``strictness``: where the strong matches end, 0 (loose) to 1 (strict; only
    what ties with the best match); None: the default (``search.cutoff.DEFAULT_STRICTNESS``). The answer's
    ``cutoff`` and each result's ``match`` say where they ended.
    ``channel`` names who asks (the window's search box): a newer search on the same channel makes an older
    one still waiting in the queue pointless, and it is cancelled unrun.
    """

    query: str
    folder: str | None = None
    top_k: int = 20
    channel: str | None = None
    literal: tuple[tuple[int, int], ...] = ()
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: str = "relevance"
    strictness: float | None = None


@dataclass(frozen=True)
class FindSimilar(Command):
    """Photos that look like the image at ``image_path`` (indexed or not; itself left out) -> ``SearchAnswer``;
    ``filters``, ``sort`` and ``strictness`` as for ``Search``."""

    image_path: str
    folder: str | None = None
    top_k: int = 20
    channel: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: str = "relevance"
    strictness: float | None = None


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
    -> ``IndexReport``: photos embedded, their metadata read, and the text read in them (``ocr``: "off",
    "documents" or "all" first sets what is read, for this index from now on; None keeps it). Progress
    arrives as events meanwhile."""

    paths: tuple[str, ...] = ()
    ocr: str | None = None


@dataclass(frozen=True)
class SetOcrMode(Command):
    """Read text in photos ("off", "documents" or "all") from now on, kept in the index -> ``None``.
    XmrError when Tesseract is not installed for a mode that reads."""

    mode: str


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
    """Load (or switch to) the model named by ``argument`` (None: the default) -> ``ModelInfo``.

    ``language`` (one of ``LANGUAGES``) replaces the query-language setting first; None keeps it.
    """

    argument: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class SetLanguage(Command):
    """Route query terms by ``language`` (one of ``LANGUAGES``) from now on -> ``ModelInfo``.

    Nothing is loaded or embedded again: only the searcher's cached term vectors are dropped. ``multi`` with a
    model that has no multilingual text tower is an ``XmrError``.
    """

    language: str


@dataclass(frozen=True)
class QueryTowers(Command):
    """Which model answers each term of ``query`` under the current language -> ``list[tuple[str, str]]`` of
    (term, tower): a model name (``mclip-b32``, ``openai-b32``), ``"image"`` for an image term or ``"concept"``
    for a term that is only a taught name. Embeds nothing."""

    query: str


@dataclass(frozen=True)
class GetStatus(Command):
    """Folders with their counts, the model, the device and where data lives -> ``LibraryStatus``."""


@dataclass(frozen=True)
class ListSkipped(Command):
    """Files that could not be indexed -> ``list[tuple[str, str]]`` of (path, reason), by path."""


@dataclass(frozen=True)
class FindDuplicates(Command):
    """Near-duplicate groups among the indexed photos (inside ``folder``, None: all) -> ``DuplicatesFound``.

    Runs on a thread of its own (searches are answered meanwhile); progress arrives as ``DuplicatesProgress``
    events. A newer request on the same ``channel`` (the window's Duplicates view) cancels an older one, whose
    future then fails with ``DuplicatesCancelled``.
    """

    folder: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class CancelDuplicates(Command):
    """Stop the ``FindDuplicates`` of ``channel`` (None: every one) -> ``int``, how many were stopped."""

    channel: str | None = None


@dataclass(frozen=True)
class TrashPhotos(Command):
    """Move these photos, all of groups a ``FindDuplicates`` found, to the system trash -> ``TrashedPhotos``.

    Refused (``RemovalError``, nothing moves) unless ``confirmed`` is True, every path is a photo of a group
    found, and every group keeps at least one photo that is still on disk. The photos that moved leave the
    index in one store call; ``PhotosTrashed`` and ``SearchableChanged`` follow.
    """

    paths: tuple[str, ...]
    confirmed: bool = False
