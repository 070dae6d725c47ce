"""Pairs of photos whose image vectors lie close together, without comparing every photo with every other.

Up to ``EXACT_UP_TO`` rows every pair is compared, in blocks (one matrix product each). Above it the rows are
clustered into cells of about ``CELL_ROWS`` rows by spherical k-means (faiss, trained on a sample); each row is compared only
with the rows that have its own cell among their ``PROBES`` nearest cells, again as one matrix product per cell.
That is about ``PROBES · N · CELL_ROWS`` multiply-adds instead of ``N²``: at 100k photos 5× faster than all pairs
(measured in one run by ``benchmarks/duplicates``, which also counts the pairs it misses: 0.7% there). Near-duplicates sit far closer together than cells are wide, so a pair is missed only when both of its
photos lie on cell borders.

(Faiss's own range search over an inverted file was measured first: it compares vector by vector, ~10× slower
than these matrix products on the same cells.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

EXACT_UP_TO = 5_000
PROBES = 5
# Rows a cell holds on average. Fewer, larger cells cost more multiply-adds (PROBES · N · CELL_ROWS) but far
# less per product: a BLAS call on a few hundred rows is dominated by starting its threads (measured: 142 calls
# on 142×425 blocks took 2.5 CPU-s, 3 calls on 4096² blocks with 6× the arithmetic 0.9 CPU-s).
CELL_ROWS = 512
# Rows per block of a matrix product: bounds the float32 similarity block (4096² × 4 bytes = 64 MiB).
_BLOCK = 4096


@dataclass(frozen=True)
class NearPairs:
    """Row pairs ``(first[k], second[k])`` with ``first < second`` and their cosine ``score[k]``, best first.

    Attributes:
        first, second: row positions (int64) in the matrix that was searched.
        score: their dot product (cosine for unit rows), float32.
        exact: whether every pair was compared (False: the clustered search was used).
    """

    first: np.ndarray
    second: np.ndarray
    score: np.ndarray
    exact: bool

    def __len__(self) -> int:
        return int(self.first.shape[0])


def near_pairs(vectors: np.ndarray, min_cosine: float, *, exact_up_to: int = EXACT_UP_TO, probes: int = PROBES) -> NearPairs:
    """Every pair of rows of ``vectors`` (N×D unit rows, float16 or float32) with cosine ≥ ``min_cosine``.

    Exact up to ``exact_up_to`` rows, clustered above (see the module docstring). Deterministic: the same rows
    give the same pairs. Raises ``ValueError`` for a matrix that is not 2-D.
    """
    matrix = np.asarray(vectors)
    if matrix.ndim != 2:
        raise ValueError(f"vectors must be an N×D matrix, got shape {matrix.shape}")
    n = matrix.shape[0]
    threshold = np.float32(min_cosine)
    exact = n <= exact_up_to
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    blocks = _all_pairs_blocks(n) if exact else _cell_blocks(matrix, probes)
    for rows, columns in blocks:
        left = np.ascontiguousarray(matrix[rows], dtype=np.float32)
        right = left if rows is columns else np.ascontiguousarray(matrix[columns], dtype=np.float32)
        similarity = left @ right.T
        i, j = np.nonzero(similarity >= threshold)
        a, b = rows[i], columns[j]
        keep = a < b
        found.append((a[keep], b[keep], similarity[i[keep], j[keep]]))
    if found:
        first, second, score = (np.concatenate(parts) for parts in zip(*found))
    else:
        first, second, score = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    if not exact:
        # A pair can be found from both of its rows' cells: keep it once.
        _, unique = np.unique(first * n + second, return_index=True)
        first, second, score = first[unique], second[unique], score[unique]
    order = np.lexsort((second, first, -score))
    log.debug("%d pairs at cosine >= %.3f among %d rows (%s)", len(order), min_cosine, n, "exact" if exact else "clustered")
    return NearPairs(first[order].astype(np.int64), second[order].astype(np.int64), score[order].astype(np.float32), exact)


def _all_pairs_blocks(n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Row blocks against themselves and every later block: each pair once (diagonal blocks keep i < j)."""
    starts = range(0, n, _BLOCK)
    for a in starts:
        rows = np.arange(a, min(a + _BLOCK, n))
        yield rows, rows
        for b in starts:
            if b > a:
                yield rows, np.arange(b, min(b + _BLOCK, n))


def _cell_blocks(matrix: np.ndarray, probes: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per cell: the rows whose nearest cell it is, against every row that has it among its nearest ``probes``."""
    import faiss

    n, dim = matrix.shape
    cells = max(2, n // CELL_ROWS)
    # 40 points a cell is the least faiss trains k-means on without a warning; the cells need only be rough.
    sample = np.sort(np.random.default_rng(0).choice(n, min(n, cells * 40), replace=False))
    kmeans = faiss.Kmeans(dim, cells, niter=10, spherical=True, seed=1234, verbose=False)
    kmeans.train(np.ascontiguousarray(matrix[sample], dtype=np.float32))
    nearest = np.empty((n, probes), np.int64)
    for start in range(0, n, _BLOCK):
        chunk = np.ascontiguousarray(matrix[start : start + _BLOCK], dtype=np.float32)
        nearest[start : start + len(chunk)] = kmeans.index.search(chunk, probes)[1]
    home = nearest[:, 0]
    order_home = np.argsort(home, kind="stable")
    home_bounds = np.searchsorted(home[order_home], np.arange(cells + 1))
    flat_cells = nearest.reshape(-1)
    flat_rows = np.repeat(np.arange(n), probes)
    order_any = np.argsort(flat_cells, kind="stable")
    any_bounds = np.searchsorted(flat_cells[order_any], np.arange(cells + 1))
    for cell in range(cells):
        rows = order_home[home_bounds[cell] : home_bounds[cell + 1]]
        if not rows.size:
            continue
        columns = flat_rows[order_any[any_bounds[cell] : any_bounds[cell + 1]]]
        for start in range(0, rows.size, _BLOCK):
            yield rows[start : start + _BLOCK], columns
