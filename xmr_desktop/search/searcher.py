"""Answering a query by meaning: parse it, embed its terms, rank the indexed photos of the current model.

The searcher also keeps the photos' filter columns (``FilterColumns``: date taken, place, camera, type) in
memory beside the vectors, caught up from the same change feed, so filters cost a few numpy passes per query;
``library_search.LibrarySearch`` puts the query reader, filters, keywords and fusion on top of it.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict

import numpy as np

from xmr_desktop.engine.preprocess import ImageRejected, load_for_embedding
from xmr_desktop.engine.protocol import Embedder
from xmr_desktop.errors import QueryError, UnknownFolderError
from xmr_desktop.learn.concepts import ConceptExpander
from xmr_desktop.library.photo_paths import is_photo_file, is_under
from xmr_desktop.library.store import FileRecord, Store
from xmr_desktop.search.cutoff import LibraryStats
from xmr_desktop.search.explain import QueryBreakdown, breakdown_query, plain_pieces
from xmr_desktop.search.filter_columns import FilterColumns
from xmr_desktop.search.query import QueryTerm, combine, parse_query
from xmr_desktop.search.ranking import VectorIndex
from xmr_desktop.search.results import SearchResult

log = logging.getLogger(__name__)

DEFAULT_TOP_K = 50
_TEXT_CACHE_SIZE = 256
_MASK_CACHE_SIZE = 16


class Searcher:
    """Ranks the photos of one store for one model.

    The vectors are loaded into memory on the first search. Every search first asks the index's change feed
    what changed since (``Store.changed_since``, written by every connection and process) and re-reads only
    those files, so searching while a big library is being indexed — here or by another process — stays fast
    and correct; typing touches the database only for that question and to describe the winners.

    Attributes:
        store: the index (a connection owned by the calling thread).
        embedder: the model that embeds query texts and query images.
        concepts: personal names ("Rex") taught from photos; a term naming one mixes in its prototype.
    """

    def __init__(self, store: Store, embedder: Embedder, concepts: ConceptExpander | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.concepts = concepts
        self._index: VectorIndex | None = None
        self._columns: FilterColumns | None = None
        self._stats: LibraryStats | None = None
        self._change_mark = 0
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._folder_masks: dict[str, np.ndarray] = {}
        self._masks: OrderedDict[object, np.ndarray] = OrderedDict()

    def prepare(self) -> None:
        """Load the vectors and run the text tower once now (its first call traces it, ~1.5 s), so the user's
        first query answers at typing speed. Call it on the thread that will search."""
        self._loaded()
        self.embedder.embed_texts(["a photo"])

    def search(self, query: str, top_k: int = DEFAULT_TOP_K, folder: str | None = None) -> list[SearchResult]:
        """Best ``top_k`` photos for a query in xmr's syntax (``beach + sunset - people``, ``2:dog``, image paths)."""
        terms = parse_query(query, image_exists=_is_image_file)
        return self._rank(terms, top_k, folder)

    def similar(self, image_path: str, top_k: int = DEFAULT_TOP_K, folder: str | None = None) -> list[SearchResult]:
        """Photos that look like the given image file (indexed or not); the image itself is left out."""
        path = os.path.abspath(os.path.expanduser(image_path))
        if not os.path.isfile(path):
            raise QueryError(f"query image not found: {image_path}")
        return self._rank([QueryTerm(1.0, "image", path)], top_k, folder)

    def use_embedder(self, embedder: Embedder) -> None:
        """Embed query texts with ``embedder`` from now on: another text side over the same image space (a new
        query-language setting). The loaded image vectors stay; the cached term vectors, which the old text side
        made, go."""
        if embedder.model_id != self.embedder.model_id:
            raise ValueError(f"{embedder.model_id} is another image space than {self.embedder.model_id}")
        self.embedder = embedder
        self._text_cache.clear()

    def towers(self, query: str) -> list[tuple[str, str]]:
        """``(term, tower)`` for each term of ``query``: which model answers it (``search.language.term_towers``);
        embeds nothing."""
        return self.term_towers(parse_query(query, image_exists=_is_image_file))

    def term_towers(self, terms: list[QueryTerm]) -> list[tuple[str, str]]:
        """``towers`` for terms already parsed."""
        from xmr_desktop.search.language import term_towers

        return term_towers(terms, self.embedder, self.concepts)

    def query_vector(self, query: str) -> np.ndarray:
        """The unit vector a query in xmr's syntax ranks by (terms embedded, concepts mixed in, combined)."""
        return self._combined(parse_query(query, image_exists=_is_image_file))

    def terms_vector(self, terms: list[QueryTerm]) -> np.ndarray:
        """The unit vector parsed ``terms`` rank by."""
        return self._combined(terms)

    def breakdown(self, terms: list[QueryTerm]) -> QueryBreakdown:
        """``terms`` as the parts of their query vector (``search.explain``): its ``vector`` is what
        ``terms_vector`` gives, and each part can say how much of a photo's score it gave."""
        # The plain text terms through the text tower in one call first; the pieces then come from the cache.
        self._text_vectors([t.value for t in terms if t.kind == "text" and not (self.concepts and self.concepts.split(t.value)[0])])
        return breakdown_query(terms, plain_pieces(self._text_vector, self._image_vector, self.concepts))

    def library_stats(self) -> LibraryStats:
        """What the relevance cutoff compares a query's scores with (a random sample of the vectors and their
        mean), computed once per change of the vectors, not per query. Call after ``caught_up``."""
        index = self._loaded() if self._index is None else self._index
        if self._stats is None:
            self._stats = LibraryStats.from_index(index)
        return self._stats

    def _combined(self, terms: list[QueryTerm]) -> np.ndarray:
        return combine(list(zip((term.weight for term in terms), self._term_vectors(terms))))

    def caught_up(self) -> tuple[VectorIndex, FilterColumns]:
        """The vectors and the filter columns, caught up with every write to the index since the last call."""
        index = self._loaded()
        assert self._columns is not None
        return index, self._columns

    def mask(self, key: object, allowed_ids: np.ndarray) -> np.ndarray:
        """The rows of the vectors whose ids are in ``allowed_ids``; kept under ``key`` (the filters that gave
        them) until the index changes, so typing with the same filters costs one lookup. Call after
        ``caught_up``: the mask follows the rows it returned."""
        assert self._index is not None
        mask = self._masks.get(key)
        if mask is None:
            mask = np.isin(self._index.ids, allowed_ids)
            self._masks[key] = mask
            while len(self._masks) > _MASK_CACHE_SIZE:
                self._masks.popitem(last=False)
        return mask

    def image_file_id(self, path: str) -> int | None:
        """The id of an indexed query image (left out of its own results), None if it is not indexed."""
        return self.store.file_id_for_path(path)

    def _rank(self, terms: list[QueryTerm], top_k: int, folder: str | None) -> list[SearchResult]:
        index = self._loaded()
        if not len(index):
            return []
        query = self._combined(terms)
        allowed = self._folder_mask(index, folder) if folder else None
        # The query images themselves are not results.
        query_images = (self.store.file_id_for_path(term.value) for term in terms if term.kind == "image")
        hits = index.top_k(query, top_k, allowed=allowed, exclude=[i for i in query_images if i is not None])
        records = self.store.records_by_ids(file_id for file_id, _ in hits)
        # A file deleted since the vectors were loaded has no row any more: it is left out, not an error.
        return [_result(records[file_id], score) for file_id, score in hits if file_id in records]

    def _loaded(self) -> VectorIndex:
        """The in-memory vectors, caught up with every write to the index since the last search."""
        model_id = self.embedder.model_id
        changed: np.ndarray | None = None
        if self._index is not None:
            self._change_mark, changed = self.store.changed_since(self._change_mark)
        if self._index is None or self._columns is None or changed is None:
            with self.store.snapshot() as conn:  # the mark, the vectors and the columns describe one moment
                self._change_mark = self.store.change_mark()
                self._index = VectorIndex.from_chunks(self.store.iter_vectors(model_id))
                self._columns = FilterColumns.load(conn)
            self._folder_masks.clear()
            self._masks.clear()
            self._stats = None
            log.debug("loaded %d vectors for %s", len(self._index), model_id)
        elif changed.size:
            self._index.remove(changed)
            self._index.append(self.store.iter_vectors(model_id, file_ids=changed))
            self._columns = self._columns.refresh(self.store.connection, changed.tolist())
            self._folder_masks.clear()
            self._masks.clear()
            self._stats = None
            log.debug("updated %d files' vectors for %s", changed.size, model_id)
        return self._index

    def _term_vectors(self, terms: list[QueryTerm]) -> list[np.ndarray]:
        """One vector per term; the plain text terms go through the text tower together, in one call."""
        vectors: list[np.ndarray | None] = []
        for term in terms:
            if term.kind == "image":
                vectors.append(self._image_vector(term.value))
            elif self.concepts is not None:
                vectors.append(self.concepts.term_vector(term.value, self._text_vector))
            else:
                vectors.append(None)
        plain = [term.value for term, vector in zip(terms, vectors) if vector is None]
        embedded = iter(self._text_vectors(plain))
        return [vector if vector is not None else next(embedded) for vector in vectors]

    def _text_vector(self, text: str) -> np.ndarray:
        return self._text_vectors([text])[0]

    def _text_vectors(self, texts: list[str]) -> list[np.ndarray]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if missing:
            for text, vector in zip(missing, self.embedder.embed_texts(missing)):
                self._text_cache[text] = vector
        found = []
        for text in texts:
            self._text_cache.move_to_end(text)
            found.append(self._text_cache[text])
        while len(self._text_cache) > _TEXT_CACHE_SIZE:
            self._text_cache.popitem(last=False)
        return found

    def _image_vector(self, path: str) -> np.ndarray:
        stored = self.store.vector_for_path(path, self.embedder.model_id)
        if stored is not None:
            return stored
        try:
            loaded = load_for_embedding(path, self.embedder.image_spec)
        except (ImageRejected, OSError) as error:
            raise QueryError(f"cannot use {path} as a query image: {error}") from error
        assert loaded.pixels is not None
        return self.embedder.embed_images(loaded.pixels[np.newaxis])[0]

    def _folder_mask(self, index: VectorIndex, folder: str) -> np.ndarray:
        """Rows of ``index`` inside ``folder``; computed once per folder until the vectors change."""
        root = os.path.abspath(os.path.expanduser(folder))
        mask = self._folder_masks.get(root)
        if mask is None:
            if not any(is_under(root, f.path) for f in self.store.folders()):
                raise UnknownFolderError(f"not an indexed folder: {folder}")
            mask = np.isin(index.ids, self.store.file_ids_under(root))
            self._folder_masks[root] = mask
        return mask


def _is_image_file(path: str) -> bool:
    # A plain word that happens to name a file in the working directory is still text.
    return is_photo_file(path)


def _result(row: FileRecord, score: float) -> SearchResult:
    return SearchResult(
        path=row.path, score=float(score), size=row.size, mtime=row.mtime_ns / 1e9, width=row.width, height=row.height
    )
