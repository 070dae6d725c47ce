"""Top-50 over N×512 unit vectors: numpy float32 vs faiss-cpu (flat float32, scalar-quantiser fp16), memory.

Runs in ``benchmarks/.work/bench-venv`` (numpy + faiss-cpu), never the project venv. One process per backend so
each resident-memory figure is that backend's alone. Candidates:

* ``numpy-f32``: float32 matrix, ``matrix @ q`` + ``argpartition`` (what ``VectorIndex`` did before faiss);
* ``numpy-f16-chunked``: float16 matrix, converted to float32 64k rows at a time for the matmul
  (half the memory, the conversion costs time);
* ``faiss-flat-f32``: ``IndexFlatIP`` (float32, exact);
* ``faiss-sq-fp16``: ``IndexScalarQuantizer(d, QT_fp16, METRIC_INNER_PRODUCT)`` (what ``VectorIndex`` uses now):
  fp16 codes, SIMD decode in the scan, half the memory of float32.

Recall@50 against exact float32 is reported (fp16 storage should not change the top 50 in practice).

Usage: python search_backends.py [--n 1000000] [--queries 30]        (driver: runs every backend)
       python search_backends.py --backend NAME ...                   (one backend; prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DIM = 512
K = 50
BACKENDS = ("numpy-f32", "numpy-f16-chunked", "faiss-flat-f32", "faiss-sq-fp16")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def vectors(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        chunk = rng.standard_normal((min(100_000, n - start), DIM)).astype(np.float32)
        out[start : start + len(chunk)] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def query_vectors(count: int) -> np.ndarray:
    q = np.random.default_rng(12345).standard_normal((count, DIM)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def top_k_numpy(scores: np.ndarray) -> np.ndarray:
    part = np.argpartition(scores, len(scores) - K)[len(scores) - K :]
    return part[np.argsort(-scores[part])]


def build(name: str, data: np.ndarray):
    if name == "numpy-f32":
        matrix = data

        def search(q: np.ndarray) -> np.ndarray:
            return top_k_numpy(matrix @ q)

        return matrix, search
    if name == "numpy-f16-chunked":
        matrix = data.astype(np.float16)
        rows = 65_536
        scores = np.empty(len(matrix), np.float32)

        def search(q: np.ndarray) -> np.ndarray:
            for start in range(0, len(matrix), rows):
                block = matrix[start : start + rows].astype(np.float32)
                np.matmul(block, q, out=scores[start : start + len(block)])
            return top_k_numpy(scores)

        return matrix, search
    import faiss

    index = faiss.IndexFlatIP(DIM) if name == "faiss-flat-f32" else faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(data[:10_000])
    index.add(data)

    def search(q: np.ndarray) -> np.ndarray:
        _, ids = index.search(q[np.newaxis], K)
        return ids[0]

    return index, search


def one_backend(name: str, n: int, queries: int) -> dict:
    if name.startswith("faiss"):
        import faiss  # noqa: F401  (imported before the baseline so its libraries are not counted)
    baseline = rss_mib()
    data = vectors(n)
    qs = query_vectors(queries + 3)
    exact = [set(top_k_numpy(data @ q).tolist()) for q in qs[3:]]
    t0 = time.perf_counter()
    holder, search = build(name, data)
    build_s = time.perf_counter() - t0
    if holder is not data:
        del data  # the index holds its own copy (faiss codes, the float16 matrix)
    import gc

    gc.collect()
    index_mib = rss_mib() - baseline  # what stays resident for the index
    for q in qs[:3]:
        search(q)  # warm
    times, recall = [], []
    for q, truth in zip(qs[3:], exact):
        t0 = time.perf_counter()
        ids = search(q)
        times.append(time.perf_counter() - t0)
        recall.append(len(truth & set(np.asarray(ids).tolist())) / K)
    return {
        "backend": name,
        "n": n,
        "p50_ms": 1000 * float(np.percentile(times, 50)),
        "p95_ms": 1000 * float(np.percentile(times, 95)),
        "index_mib": index_mib,
        "float16_mib": n * DIM * 2 / 2**20,
        "recall_at_50": float(np.mean(recall)),
        "build_s": build_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--backend", choices=BACKENDS)
    args = parser.parse_args()
    if args.backend:
        print(json.dumps(one_backend(args.backend, args.n, args.queries)))
        return
    results = []
    for name in BACKENDS:
        out = subprocess.run(
            [sys.executable, __file__, "--backend", name, "--n", str(args.n), "--queries", str(args.queries)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(
            f"{name:18} n={r['n']:,}: p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  index {r['index_mib']:6.0f} MiB "
            f"({r['index_mib'] / r['float16_mib']:.2f}× float16)  recall@50 {r['recall_at_50']:.3f}  build {r['build_s']:.1f} s",
            flush=True,
        )
    print(json.dumps({"n": args.n, "queries": args.queries, "results": results}))


if __name__ == "__main__":
    main()
