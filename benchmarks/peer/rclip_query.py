"""Query latency of rclip 3.3.0 at N synthetic vectors: text query -> top-50 (runs in the rclip venv).

rclip's own ``RClip.search`` on its own SQLite DB holding the same N synthetic unit vectors as xmr's benchmark
(float32 BLOBs, the format rclip writes). rclip keeps nothing in memory between queries: each search reads every
vector of the directory from SQLite, encodes the text with its ONNX text tower, scores with numpy and sorts all
N scores in Python. That is what each ``rclip QUERY`` invocation does after start-up, so it is rclip's query
latency. The parts are timed too: text encoding, loading vectors, and ranking over an in-memory matrix
(``Model.compute_similarities_to_text`` + the top-k slice ``search`` takes), the last one being rclip's latency
if it kept vectors in memory like xmr does.

Usage: python rclip_query.py N [--queries 10]   with RCLIP_DATADIR pointing at the exported models
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path


# Runs in rclip's venv by path: the shared, numpy-only benchmark modules come from the repository itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import percentile, rss_mib  # noqa: E402
from benchmarks.workload import DIM, FOLDER, queries, synthetic_vectors  # noqa: E402

WORK = Path(__file__).resolve().parents[1] / ".work"


def build_db(db_path: Path, n: int) -> None:
    from rclip import db

    done = db_path.with_suffix(".complete")
    if done.is_file():
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in db_path.parent.glob(db_path.name + "*"):
        stale.unlink()
    vectors = synthetic_vectors(n)
    database = db.DB(db_path)  # creates rclip's schema at its current version
    con = database._con
    for start in range(0, n, 50_000):
        con.executemany(
            "INSERT INTO images(deleted, indexing, filepath, modified_at, size, vector, hash) VALUES (NULL, NULL, ?, ?, ?, ?, ?)",
            (
                (f"{FOLDER}/{i // 1000:04d}/IMG_{i:07d}.jpg", 1_700_000_000.0 + i, 3_000_000 + i, vectors[i].tobytes(), f"{i:064x}")
                for i in range(start, min(n, start + 50_000))
            ),
        )
        con.commit()
    database.close()
    done.write_text(f"{n}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--top", type=int, default=50)
    args = parser.parse_args()

    from rclip import db, model
    from rclip.main import RClip

    db_path = WORK / "query-db" / f"rclip-{args.n}" / "db.sqlite3"
    started = time.perf_counter()
    build_db(db_path, args.n)
    build_s = time.perf_counter() - started

    rss_start, _ = rss_mib()
    model_instance = model.Model()
    model_instance.ensure_downloaded()
    database = db.DB(db_path, allow_vector_cache_reset=False)
    rclip = RClip(model_instance=model_instance, database=database, indexing_batch_size=8, exclude_dirs=None)
    t0 = time.perf_counter()
    rclip.search("warm up the text session", FOLDER, args.top)
    first_query_s = time.perf_counter() - t0
    rss_after_first, _ = rss_mib()

    total, encode, load, rank = [], [], [], []
    for text in queries(args.queries):
        t0 = time.perf_counter()
        results = rclip.search(text, FOLDER, args.top)
        total.append(time.perf_counter() - t0)
        assert len(results) == min(args.top, args.n)
    for text in queries(args.queries, offset=10_000):
        t0 = time.perf_counter()
        model_instance.compute_text_features([text])
        t1 = time.perf_counter()
        filepaths, features = rclip._get_features(FOLDER)
        t2 = time.perf_counter()
        # rclip's ranking as RClip.search does it, over vectors already in memory.
        similarities = model_instance.compute_similarities_to_text(features, [text], [])
        top = list(itertools.islice((s for s in similarities if not rclip._exclude_dir_regex.match(filepaths[s[1]])), args.top))
        t3 = time.perf_counter()
        assert len(top) == min(args.top, args.n)
        encode.append(t1 - t0)
        load.append(t2 - t1)
        rank.append(t3 - t2 - (t1 - t0))  # compute_similarities_to_text encodes the text again; not ranking
        del filepaths, features, similarities
    _, peak = rss_mib()
    rclip.close()
    model_instance.close()
    database.close()
    ms = lambda xs, q: 1000 * percentile(xs, q)  # noqa: E731
    print(
        json.dumps(
            {
                "n": args.n,
                "queries": args.queries,
                "p50_ms": ms(total, 50),
                "p95_ms": ms(total, 95),
                "encode_p50_ms": ms(encode, 50),
                "load_vectors_p50_ms": ms(load, 50),
                "rank_in_memory_p50_ms": ms(rank, 50),
                "in_memory_p50_ms": ms([e + r for e, r in zip(encode, rank)], 50),
                "in_memory_p95_ms": ms([e + r for e, r in zip(encode, rank)], 95),
                "first_query_s": first_query_s,
                "matrix_mib": args.n * DIM * 4 / 2**20,
                "process_rss_after_first_mib": rss_after_first,
                "process_peak_mib": peak,
                "rss_at_start_mib": rss_start,
                "build_s": build_s,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
