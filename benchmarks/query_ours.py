"""Query latency of xmr at N synthetic vectors: text query -> top-50, text encoding included, warm app.

Runs in the project venv, one process per library size so memory figures are clean. The index is a real
``Store`` (SQLite, float16 vectors) holding N synthetic unit vectors, built once through the store's own API
and kept under ``benchmarks/.work/query-db``. The query path is the app's: ``Searcher.search`` (query parsing,
the embedder's text tower, ``VectorIndex.top_k``) with the vectors already loaded, each query a new phrase so
the searcher's text cache never answers.

Usage: python -m benchmarks.query_ours MODEL_DIR N [--queries 30]   (prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.common import LITERT_MODELS, WORK, percentile, rss_mib
from benchmarks.workload import DIM, FOLDER, queries, synthetic_vectors

if TYPE_CHECKING:
    from xmr_desktop.library.store import Store
    from xmr_desktop.search.searcher import Searcher


def build_store(db_path: Path, n: int, model_id: str) -> None:
    from xmr_desktop.library.store import Embedded, Store

    done = db_path.with_suffix(".complete")
    if done.is_file():
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in db_path.parent.glob(db_path.name + "*"):
        stale.unlink()
    vectors = synthetic_vectors(n)
    with Store.open(db_path) as store:
        folder = store.add_folder(FOLDER)
        store.record_scan(folder.id, ((f"{FOLDER}/{i // 1000:04d}/IMG_{i:07d}.jpg", 3_000_000 + i, 1_700_000_000_000_000_000 + i) for i in range(n)), [])
        records = store.pending(model_id)
        for start in range(0, n, 20_000):
            chunk = records[start : start + 20_000]
            store.commit_batch(
                model_id,
                [Embedded(r.id, r.size, r.mtime_ns, (start + j).to_bytes(16, "little"), 4032, 3024, vectors[start + j])
                 for j, r in enumerate(chunk)],
                [],
            )
    done.write_text(f"{n}\n")


def search_after_batches(store: Store, searcher: Searcher, model_id: str, top: int, rounds: int = 7) -> list[float]:
    """Seconds to answer a query right after an indexing batch of 16 new photos (as while the app indexes).

    The batch is committed through the store (the searcher catches up through the change feed, as in the app),
    the next search is timed; the photos are then removed again so the benchmark database stays as built.
    """
    from xmr_desktop.library.store import Embedded

    rng = np.random.default_rng(11)
    folder = store.folder(FOLDER)
    times = []
    for round_ in range(rounds):
        paths = [f"{FOLDER}/batch/{round_:02d}-{i:02d}.jpg" for i in range(16)]
        store.record_scan(folder.id, [(p, 1, 1) for p in paths], [])
        pending = {r.path: r for r in store.pending(model_id)}
        vectors = rng.standard_normal((16, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        entries = [Embedded(pending[p].id, 1, 1, b"batch%02d%02d" % (round_, i), 1, 1, v) for i, (p, v) in enumerate(zip(paths, vectors))]
        store.commit_batch(model_id, entries, [])
        t0 = time.perf_counter()
        searcher.search(f"photos of round {round_}", top)
        times.append(time.perf_counter() - t0)
        store.remove_paths(paths)
        searcher.search(f"after round {round_}", top)
    store.prune_embeddings(grace_s=0.0)
    store.prune_embeddings(grace_s=0.0)  # the first call marks, the second deletes
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("n", type=int)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--top", type=int, default=50)
    args = parser.parse_args()

    from xmr_desktop.engine.embedder import load_embedder
    from xmr_desktop.library.store import Store
    from xmr_desktop.search.searcher import Searcher

    # On LiteRT (the default on the CPU) with the exports setup prepared; the text encoding is part of each query.
    embedder = load_embedder(str(args.model), LITERT_MODELS)
    db_path = WORK / "query-db" / f"xmr-{args.n}" / "index.db"
    started = time.perf_counter()
    build_store(db_path, args.n, embedder.model_id)
    build_s = time.perf_counter() - started

    first_encode_started = time.perf_counter()
    embedder.embed_texts(["warm up the text tower"])  # the app warms this off the GUI thread
    first_encode_s = time.perf_counter() - first_encode_started
    rss_before, _ = rss_mib()
    with Store.open(db_path) as store:
        searcher = Searcher(store, embedder)
        started = time.perf_counter()
        searcher.search("the first query loads the vectors", args.top)
        first_query_s = time.perf_counter() - started
        rss_after, peak = rss_mib()
        total, encode, rank = [], [], []
        for text in queries(args.queries):
            t0 = time.perf_counter()
            results = searcher.search(text, args.top)
            total.append(time.perf_counter() - t0)
            assert len(results) == min(args.top, args.n)
        # The two parts on their own: the text tower, and ranking a fixed query vector.
        index = searcher._loaded()
        for text in queries(args.queries, offset=10_000):
            t0 = time.perf_counter()
            vector = embedder.embed_texts([text])[0]
            t1 = time.perf_counter()
            index.top_k(vector, args.top)
            t2 = time.perf_counter()
            encode.append(t1 - t0)
            rank.append(t2 - t1)
        matrix_mib = index.nbytes / 2**20
        after_batch = search_after_batches(store, searcher, embedder.model_id, args.top)
    ms = lambda xs, q: 1000 * percentile(xs, q)  # noqa: E731
    print(
        json.dumps(
            {
                "n": args.n,
                "queries": args.queries,
                "p50_ms": ms(total, 50),
                "p95_ms": ms(total, 95),
                "encode_p50_ms": ms(encode, 50),
                "rank_p50_ms": ms(rank, 50),
                "rank_p95_ms": ms(rank, 95),
                "first_text_encode_s": first_encode_s,
                "first_query_with_load_s": first_query_s,
                "index_rss_mib": rss_after - rss_before,
                "matrix_mib": matrix_mib,
                "float16_mib": args.n * DIM * 2 / 2**20,
                "process_rss_mib": rss_after,
                "process_peak_mib": peak,
                "build_s": build_s,
                "search_after_batch_p50_ms": ms(after_batch, 50),
            }
        )
    )


if __name__ == "__main__":
    main()
