"""Answering a query: parse it, embed its terms, rank the indexed photos of the current model."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from xmr_desktop.engine.preprocess import ImageRejected, ImageSpec, load_for_embedding
from xmr_desktop.errors import QueryError, UnknownFolderError
from xmr_desktop.learn.concepts import ConceptExpander
from xmr_desktop.library.scanner import IMAGE_EXTENSIONS
from xmr_desktop.library.store import FileRecord, Store
from xmr_desktop.search.query import QueryTerm, combine, parse_query
from xmr_desktop.search.ranking import VectorIndex
from xmr_desktop.search.results import SearchResult

log = logging.getLogger(__name__)

DEFAULT_TOP_K = 50
_TEXT_CACHE_SIZE = 256


class TextImageEmbedder(Protocol):
    """What search needs of a model (``ClipEmbedder`` or a test double)."""

    model_id: str
    image_spec: ImageSpec

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_images(self, pixels: np.ndarray) -> np.ndarray: ...


class Searcher:
    """Ranks the photos of one store for one model.

    The vectors are loaded into memory on the first search. After ``refresh()`` (call it when the store was
    written, e.g. an indexing batch committed) the next search first re-reads only the files this store changed
    since (``Store.changed_since``), so searching while a big library is being indexed stays fast; typing
    touches the database only to describe the winners.

    Attributes:
        store: the index (a connection owned by the calling thread).
        embedder: the model that embeds query texts and query images.
        concepts: personal names ("Rex") taught from photos; a term naming one mixes in its prototype.
    """

    def __init__(self, store: Store, embedder: TextImageEmbedder, concepts: ConceptExpander | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.concepts = concepts
        self._index: VectorIndex | None = None
        self._stale = False
        self._change_mark = 0
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._folder_masks: dict[str, np.ndarray] = {}

    def refresh(self) -> None:
        """The store was written: bring the in-memory vectors up to date before the next search."""
        self._stale = True

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

    def _rank(self, terms: list[QueryTerm], top_k: int, folder: str | None) -> list[SearchResult]:
        index = self._loaded()
        if not len(index):
            return []
        query = combine([(term.weight, self._term_vector(term)) for term in terms])
        allowed = self._folder_mask(index, folder) if folder else None
        # The query images themselves are not results.
        query_images = (self.store.file_id_for_path(term.value) for term in terms if term.kind == "image")
        hits = index.top_k(query, top_k, allowed=allowed, exclude=[i for i in query_images if i is not None])
        records = self.store.records_by_ids(file_id for file_id, _ in hits)
        # A file deleted since the vectors were loaded has no row any more: it is left out, not an error.
        return [_result(records[file_id], score) for file_id, score in hits if file_id in records]

    def _loaded(self) -> VectorIndex:
        model_id = self.embedder.model_id
        changed = self.store.changed_since(self._change_mark) if self._index is not None and self._stale else None
        if self._index is None or (self._stale and changed is None):
            self._change_mark = self.store.change_mark()
            self._index = VectorIndex.from_chunks(self.store.iter_vectors(model_id))
            self._folder_masks.clear()
            log.debug("loaded %d vectors for %s", len(self._index), model_id)
        elif changed is not None and changed.size:
            self._change_mark = self.store.change_mark()
            self._index.remove(changed)
            self._index.append(self.store.iter_vectors(model_id, file_ids=changed))
            self._folder_masks.clear()
            log.debug("updated %d files' vectors for %s", changed.size, model_id)
        self._stale = False
        return self._index

    def _term_vector(self, term: QueryTerm) -> np.ndarray:
        if term.kind == "image":
            return self._image_vector(term.value)
        if self.concepts is not None:
            mixed = self.concepts.term_vector(term.value, self._text_vector)
            if mixed is not None:
                return mixed
        return self._text_vector(term.value)

    def _text_vector(self, text: str) -> np.ndarray:
        cached = self._text_cache.get(text)
        if cached is None:
            cached = self.embedder.embed_texts([text])[0]
            self._text_cache[text] = cached
            if len(self._text_cache) > _TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        else:
            self._text_cache.move_to_end(text)
        return cached

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
        """Rows of ``index`` inside ``folder``; computed once per folder until ``refresh()``."""
        root = os.path.abspath(os.path.expanduser(folder))
        mask = self._folder_masks.get(root)
        if mask is None:
            if not any(root == f.path or root.startswith(f.path.rstrip(os.sep) + os.sep) for f in self.store.folders()):
                raise UnknownFolderError(f"not an indexed folder: {folder}")
            mask = np.isin(index.ids, self.store.file_ids_under(root))
            self._folder_masks[root] = mask
        return mask


def _is_image_file(path: str) -> bool:
    # A plain word that happens to name a file in the working directory is still text.
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS and os.path.isfile(path)


def _result(row: FileRecord, score: float) -> SearchResult:
    return SearchResult(
        path=row.path, score=float(score), size=row.size, mtime=row.mtime_ns / 1e9, width=row.width, height=row.height
    )
