"""Top-K search by cosine similarity over an in-memory matrix of unit vectors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class VectorIndex:
    """Unit vectors (float32, row-major N×D) with their row ids; ranks by dot product.

    The matrix is kept as given when it already is C-contiguous float32 (no copy) and is held read-only;
    a query costs one N-length score vector, never a copy of the matrix.

    Attributes:
        dim: vector length D.
    """

    def __init__(self, vectors: np.ndarray, ids: Sequence[int] | np.ndarray) -> None:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim == 1 and matrix.size == 0:
            matrix = matrix.reshape(0, 0)
        if matrix.ndim != 2:
            raise ValueError(f"vectors must be an N×D matrix, got shape {matrix.shape}")
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        if id_array.shape[0] != matrix.shape[0]:
            raise ValueError(f"{id_array.shape[0]} ids for {matrix.shape[0]} vectors")
        if np.unique(id_array).shape[0] != id_array.shape[0]:
            raise ValueError("ids must be unique")
        # Views, so the caller's array is not copied, yet nothing here can write through them.
        self._vectors = matrix.view()
        self._vectors.flags.writeable = False
        self._ids = id_array.view()
        self._ids.flags.writeable = False

    def __len__(self) -> int:
        return self._vectors.shape[0]

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

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
        Raises ``ValueError`` for a negative ``k``, a query that is not 1-D of length ``dim`` or not finite,
        or a mask of the wrong shape or dtype.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        q = np.asarray(query, dtype=np.float32)
        if q.ndim != 1:
            raise ValueError(f"query must be a 1-D vector, got shape {q.shape}")
        n = len(self)
        if n == 0:
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

        keep = self._keep_mask(allowed, exclude)
        scores = self._vectors @ q
        # A damaged (NaN) row must rank last, not poison the k-th score comparison below.
        scores[np.isnan(scores)] = -np.inf
        rows = None if keep is None else np.flatnonzero(keep)
        candidate_scores = scores if rows is None else scores[rows]
        m = candidate_scores.shape[0]
        if k < m:
            # argpartition picks an arbitrary subset among scores equal to the k-th best; taking every
            # candidate at or above that score keeps the id tie-break exact.
            kth = candidate_scores[np.argpartition(candidate_scores, m - k)[m - k :]].min()
            chosen = np.flatnonzero(candidate_scores >= kth)
        else:
            chosen = np.arange(m)
        rows = chosen if rows is None else rows[chosen]
        candidate_scores = candidate_scores[chosen]
        ids = self._ids[rows]
        order = np.lexsort((ids, -candidate_scores))[:k]
        return [(int(i), float(s)) for i, s in zip(ids[order], candidate_scores[order])]

    def _keep_mask(self, allowed: np.ndarray | None, exclude: Iterable[int]) -> np.ndarray | None:
        keep: np.ndarray | None = None
        if allowed is not None:
            mask = np.asarray(allowed)
            if mask.dtype != np.bool_ or mask.shape != (len(self),):
                raise ValueError(
                    f"allowed must be a boolean mask of shape ({len(self)},), got {mask.dtype} {mask.shape}"
                )
            keep = mask
        excluded = np.fromiter(exclude, dtype=np.int64)
        if excluded.size:
            not_excluded = ~np.isin(self._ids, excluded)
            keep = not_excluded if keep is None else keep & not_excluded
        return keep
