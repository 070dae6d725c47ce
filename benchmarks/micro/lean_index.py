"""A lean in-memory index straight from xmr's SQLite store: memory and query time at 1M, vs today's Searcher.

Runs in ``benchmarks/.work/bench-venv`` (numpy + faiss-cpu) on the store ``benchmarks.query_ours`` builds
(``.work/query-db/xmr-N/index.db``; run the query section first). Today ``Store.load_vectors`` fetches every row
as a tuple, builds one ``FileRecord`` per file, joins all vectors into one bytes object, and converts to a float32
matrix: at 1M that is several GB at peak and ~2× the float16 size for good. The lean load:

* streams ``SELECT f.id, e.vector`` in id order (``fetchmany``) into a preallocated float16 array and an int64
  array of file ids: no per-row Python objects kept;
* hands the vectors to faiss ``IndexScalarQuantizer(QT_fp16, inner product)`` in 64k-row chunks, or keeps the
  float16 array for a chunked numpy scan;
* fetches path/size/mtime/width/height for the 50 winners only (one ``SELECT … WHERE id IN (…)``).

Usage: python lean_index.py DB_PATH MODEL_ID [--queries 30] [--backend faiss-sq-fp16|numpy-f16]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

# Runs in the faiss venv by path: the shared, stdlib-only helpers come from the repository itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import rss_mib  # noqa: E402

DIM = 512
K = 50


def load(conn: sqlite3.Connection, model_id: str) -> tuple[np.ndarray, np.ndarray]:
    (n,) = conn.execute(
        "SELECT COUNT(*) FROM files f JOIN embeddings e ON e.content_hash = f.content_hash AND e.model_id = ? WHERE f.state = 'ok'",
        (model_id,),
    ).fetchone()
    vectors = np.empty((n, DIM), np.float16)
    ids = np.empty(n, np.int64)
    cursor = conn.execute(
        """SELECT f.id, e.vector FROM files f
        CROSS JOIN embeddings e ON e.content_hash = f.content_hash AND e.model_id = ?
        WHERE f.state = 'ok' ORDER BY f.id""",
        (model_id,),
    )
    row = 0
    while True:
        chunk = cursor.fetchmany(8192)
        if not chunk:
            break
        m = len(chunk)
        ids[row : row + m] = [r[0] for r in chunk]
        vectors[row : row + m] = np.frombuffer(b"".join(r[1] for r in chunk), dtype="<f2").reshape(m, DIM)
        row += m
    return ids[:row], vectors[:row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("model_id")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--backend", default="faiss-sq-fp16", choices=("faiss-sq-fp16", "numpy-f16"))
    args = parser.parse_args()
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rss0, _ = rss_mib()
    t0 = time.perf_counter()
    ids, vectors16 = load(conn, args.model_id)
    load_s = time.perf_counter() - t0
    if args.backend == "faiss-sq-fp16":
        import faiss

        index = faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        for start in range(0, len(vectors16), 65_536):
            index.add(vectors16[start : start + 65_536].astype(np.float32))
        del vectors16

        def search(q: np.ndarray) -> np.ndarray:
            return index.search(q[np.newaxis], K)[1][0]

    else:
        scores = np.empty(len(vectors16), np.float32)

        def search(q: np.ndarray) -> np.ndarray:
            for start in range(0, len(vectors16), 65_536):
                np.matmul(vectors16[start : start + 65_536].astype(np.float32), q, out=scores[start : start + 65_536])
            part = np.argpartition(scores, len(scores) - K)[len(scores) - K :]
            return part[np.argsort(-scores[part])]

    build_s = time.perf_counter() - t0
    rss1, peak = rss_mib()
    rng = np.random.default_rng(7)
    times = []
    for i in range(args.queries + 3):
        q = rng.standard_normal(DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        t = time.perf_counter()
        rows = search(q)
        file_ids = ids[rows]
        marks = ",".join("?" * len(file_ids))
        meta = conn.execute(f"SELECT id, path, size, mtime_ns, width, height FROM files WHERE id IN ({marks})", [int(x) for x in file_ids]).fetchall()
        if i >= 3:
            times.append(time.perf_counter() - t)
        assert len(meta) == K
    print(
        f"lean {args.backend:13} n={len(ids):,}: load+build {build_s:.1f} s, index {rss1 - rss0:.0f} MiB "
        f"({(rss1 - rss0) / (len(ids) * DIM * 2 / 2**20):.2f}× float16), peak RSS {peak:.0f} MiB, rank+metadata "
        f"p50 {1000 * float(np.percentile(times, 50)):.1f} ms p95 {1000 * float(np.percentile(times, 95)):.1f} ms",
        flush=True,
    )
    print(
        json.dumps(
            {
                "backend": args.backend,
                "n": int(len(ids)),
                "load_s": load_s,
                "load_and_build_s": build_s,
                "index_rss_mib": rss1 - rss0,
                "float16_mib": len(ids) * DIM * 2 / 2**20,
                "peak_rss_mib": peak,
                "rank_plus_metadata_p50_ms": 1000 * float(np.percentile(times, 50)),
                "rank_plus_metadata_p95_ms": 1000 * float(np.percentile(times, 95)),
            }
        )
    )


if __name__ == "__main__":
    main()
