"""Top-K search by cosine similarity over unit vectors held in memory by faiss as float16."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import faiss

# Rows converted to float32 per faiss ``add`` call: bounds the transient float32 copy while building.
_ADD_ROWS = 65_536
# Extra results asked of faiss so a run of equal scores at the k-th place can still be ordered by id.
_TIE_MARGIN = 16


class VectorIndex:
    """Unit vectors with their ids, ranked by dot product; faiss holds them as float16 codes (2 bytes a value).

    Faiss labels rows by position; ``ids`` maps a position to its id. A query scans every row on one thread.

    Attributes:
        dim: vector length D.
        ids: the id of each row (read-only int64), in the order the rows were given; ``allowed`` masks follow it.
    """

    ids: np.ndarray
    _faiss: faiss.IndexScalarQuantizer | None

    def __init__(self, vectors: np.ndarray, ids: Sequence[int] | np.ndarray) -> None:
        matrix = np.asarray(vectors)
        if matrix.ndim == 1 and matrix.size == 0:
            matrix = matrix.reshape(0, 0)
        if matrix.ndim != 2:
            raise ValueError(f"vectors must be an N×D matrix, got shape {matrix.shape}")
        self._build([(np.asarray(ids, dtype=np.int64).reshape(-1), matrix)], matrix.shape[1])

    @classmethod
    def from_chunks(cls, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> VectorIndex:
        """Build from ``(ids, vectors)`` chunks (int64 ids, float16 or float32 rows), e.g. streamed from the store.

        float16 rows become faiss codes as they are; other rows are converted to float32 one chunk at a time, so a
        collection never exists as a float32 matrix.
        No chunks give an empty index. Raises ``ValueError`` as the constructor does, or for chunks of
        different dimensions.
        """
        index = cls.__new__(cls)
        index._build(chunks, None)
        return index

    def _build(self, chunks: Iterable[tuple[np.ndarray, np.ndarray]], dim: int | None) -> None:
        self._faiss = None if dim is None else _new_faiss_index(dim)
        self.ids = np.zeros(0, dtype=np.int64)
        self.ids.flags.writeable = False
        self.append(chunks)

    def append(self, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Add ``(ids, vectors)`` chunks after the existing rows; their ids must be new to the index.

        Raises ``ValueError`` and adds nothing for repeated ids or mismatched or malformed chunks.
        """
        before = len(self)
        id_parts: list[np.ndarray] = []
        try:
            for chunk_ids, chunk in chunks:
                chunk_vectors = np.asarray(chunk)
                id_array = np.asarray(chunk_ids, dtype=np.int64).reshape(-1)
                if chunk_vectors.ndim != 2:
                    raise ValueError(f"vectors must be an N×D matrix, got shape {chunk_vectors.shape}")
                if id_array.shape[0] != chunk_vectors.shape[0]:
                    raise ValueError(f"{id_array.shape[0]} ids for {chunk_vectors.shape[0]} vectors")
                if self._faiss is None:
                    self._faiss = _new_faiss_index(chunk_vectors.shape[1])
                if chunk_vectors.shape[1] != self._faiss.d:
                    raise ValueError(f"a chunk of {chunk_vectors.shape[1]}-d vectors in a {self._faiss.d}-d index")
                if chunk_vectors.dtype.kind == "f" and chunk_vectors.dtype.itemsize == 2:
                    # The fp16 quantiser's codes are the float16 values themselves: copy them, 40x faster than
                    # add(), which would widen them to float32 and round them back (to the same values).
                    codes = np.ascontiguousarray(chunk_vectors, dtype=np.float16).view(np.uint8)
                    self._faiss.add_sa_codes(codes)
                else:
                    for start in range(0, chunk_vectors.shape[0], _ADD_ROWS):
                        self._faiss.add(np.ascontiguousarray(chunk_vectors[start : start + _ADD_ROWS], dtype=np.float32))
                id_parts.append(id_array)
            added = np.concatenate(id_parts) if id_parts else np.zeros(0, dtype=np.int64)
            # One check for the whole call: per chunk it would cost a sort of the index every 8k rows.
            if not np.diff(np.sort(added)).all() or (before and np.isin(added, self.ids).any()):
                raise ValueError("ids must be unique")
        except BaseException:
            self._truncate(before)
            raise
        self._set_ids(np.concatenate([self.ids, added]) if before else added)

    def _truncate(self, rows: int) -> None:
        import faiss

        if self._faiss is not None and self._faiss.ntotal > rows:
            self._faiss.remove_ids(faiss.IDSelectorRange(rows, self._faiss.ntotal))

    def remove(self, ids: Iterable[int]) -> int:
        """Drop the rows with these ids (unknown ids are ignored); the other rows keep their order. Returns how many."""
        import faiss

        rows = self._rows_of(ids)
        if not rows.size or self._faiss is None:
            return 0
        self._faiss.remove_ids(faiss.IDSelectorBatch(rows.astype(np.int64)))
        self._set_ids(np.delete(self.ids, rows))
        return int(rows.size)

    def _rows_of(self, ids: Iterable[int]) -> np.ndarray:
        """Positions of the rows with these ids (unknown ids have none)."""
        wanted = np.fromiter(ids, dtype=np.int64)
        return np.flatnonzero(np.isin(self.ids, wanted)) if wanted.size else wanted

    def _set_ids(self, ids: np.ndarray) -> None:
        ids.flags.writeable = False
        self.ids = ids

    def __len__(self) -> int:
        return self.ids.shape[0]

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """The rows at these positions as float32 (K×D), decoded from their float16 codes."""
        positions = np.asarray(rows, dtype=np.int64).reshape(-1)
        if self._faiss is None or not positions.size:
            return np.zeros((positions.size, self.dim), np.float32)
        if positions.min() < 0 or positions.max() >= len(self):
            raise IndexError(f"row positions must lie in [0, {len(self)})")
        return self._faiss.reconstruct_batch(positions)

    def vectors_of(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The vectors of these ids (float32), e.g. of the results shown, for explaining them; unknown ids are left out."""
        rows = self._rows_of(ids)
        return {int(self.ids[r]): v for r, v in zip(rows, self.vectors_at(rows))}

    @property
    def dim(self) -> int:
        return 0 if self._faiss is None else self._faiss.d

    @property
    def nbytes(self) -> int:
        """Memory held for the rows: the float16 codes and the ids."""
        codes = 0 if self._faiss is None else self._faiss.sa_code_size() * self._faiss.ntotal
        return codes + self.ids.nbytes

    def top_k(
        self,
        query: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        exclude: Iterable[int] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` best ``(id, score)`` pairs, best first; equal scores in ascending id order.

        ``allowed`` is a boolean mask over rows (e.g. a folder filter); ``exclude`` drops ids (e.g. the
        query photo itself). Fewer than ``k`` rows left means all of them. An empty index returns ``[]``.
        A row whose score is NaN (a damaged vector) is never returned. Equal scores straddling the k-th place
        are ordered by id too: the ones with the smallest ids are kept, however many rows tie.
        Raises ``ValueError`` for a negative ``k``, a query that is not 1-D of length ``dim`` or not finite,
        or a mask of the wrong shape or dtype.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        q = np.asarray(query, dtype=np.float32)
        if q.ndim != 1:
            raise ValueError(f"query must be a 1-D vector, got shape {q.shape}")
        n = len(self)
        if n == 0 or self._faiss is None:
            return []
        if q.shape[0] != self.dim:
            raise ValueError(
                f"query has {q.shape[0]} dimensions but the index has {self.dim}; "
                "was it embedded with a different model?"
            )
        if not np.isfinite(q).all():
            raise ValueError("query vector contains NaN or infinity")
        if k == 0:
            return []
        import faiss  # not at module import: the window appears before search is first needed

        selector = self._selector(allowed, exclude)
        params = None if selector is None else faiss.SearchParameters(sel=selector)

        # Faiss keeps an arbitrary subset of the rows tied at its last place. As long as its last score
        # equals our k-th, rows tied with the k-th may be missing, so ask again for more.
        fetch = min(k + _TIE_MARGIN, n)
        while True:
            scores, rows = self._search(q, fetch, params)
            if len(rows) < fetch or fetch == n or scores[-1] < scores[k - 1]:
                break
            fetch = min(fetch * 4, n)
        ids = self.ids[rows]
        order = np.lexsort((ids, -scores))[:k]
        return [(int(i), float(s)) for i, s in zip(ids[order], scores[order])]

    def _search(
        self, q: np.ndarray, fetch: int, params: faiss.SearchParameters | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``fetch`` best rows as (scores, positions), best first; fewer if fewer rows are selected."""
        import faiss

        assert self._faiss is not None
        # Flat faiss indexes spread a batch over threads by query, so one query runs on one thread anyway;
        # more OpenMP threads only spin at the barrier (measured: p95 up when the other core is busy).
        # The setting is per calling thread and the OpenMP runtime is faiss's own copy.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, rows = self._faiss.search(q[np.newaxis], fetch, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        found = rows[0] >= 0
        return scores[0][found], rows[0][found]

    def _selector(self, allowed: np.ndarray | None, exclude: Iterable[int]) -> faiss.IDSelector | None:
        import faiss

        keep: faiss.IDSelector | None = None
        if allowed is not None:
            mask = np.asarray(allowed)
            if mask.dtype != np.bool_ or mask.shape != (len(self),):
                raise ValueError(
                    f"allowed must be a boolean mask of shape ({len(self)},), got {mask.dtype} {mask.shape}"
                )
            # IDSelectorBitmap reads bit (row & 7) of byte (row >> 3): little-endian bit order.
            keep = faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
        excluded_rows = self._rows_of(exclude)
        if excluded_rows.size:
            drop = faiss.IDSelectorNot(faiss.IDSelectorBatch(excluded_rows))
            keep = drop if keep is None else faiss.IDSelectorAnd(keep, drop)
        return keep


def _new_faiss_index(dim: int) -> faiss.IndexScalarQuantizer:
    import faiss

    # fp16 codes need no training; the index ranks by exhaustive inner product (cosine for unit vectors).
    return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
