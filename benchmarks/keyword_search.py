"""Keyword index at 100k photos: build cost, size, and query latency against plain FTS5 in the same run.

``python -m benchmarks.keyword_search [--files 100000] [--rounds 3]`` (about 2–5 minutes on 2 cores)

The collection is ``text_corpus``'s (camera and descriptive names in English and Chinese, folders, Zipf tags,
captions on 20%, OCR text on 5%). Each query is asked the way the app would, ``keyword_index.search`` with the
semantic top 1,000 as ``also_score``; the baseline is FTS5's own ``MATCH … ORDER BY rank LIMIT 1000`` (bm25) for
the same words (an OR of them), which has no per-field scores, no explanation and no rarity scale.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from benchmarks import text_corpus
from benchmarks.common import percentile
from xmr_desktop.textsearch import keyword_index as ki
from xmr_desktop.textsearch.tokens import fts_phrase, query_terms


def build(path: Path, files: int) -> tuple[sqlite3.Connection, float]:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    ki.create_keyword_tables(conn)
    started = time.perf_counter()
    batch = 0
    conn.execute("BEGIN")
    for file_id, fields in text_corpus.documents(files):
        ki.set_fields(conn, file_id, fields)
        batch += 1
        if batch == 1000:  # the indexer commits per batch, so should this
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            batch = 0
    conn.execute("COMMIT")
    return conn, time.perf_counter() - started


def baseline(conn: sqlite3.Connection, query: str) -> list[int]:
    terms = query_terms(query)
    if not terms:
        return []
    match = " OR ".join(fts_phrase(t) for t in terms)
    return [r[0] for r in conn.execute("SELECT rowid FROM keyword_fts WHERE keyword_fts MATCH ? ORDER BY rank LIMIT 1000", (match,))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work, "keywords.sqlite3")
        conn, build_s = build(path, args.files)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = os.path.getsize(path) / 2**20
        queries = text_corpus.queries()
        ours: list[float] = []
        plain: list[float] = []
        for _ in range(args.rounds):
            for query in queries:
                semantic_top = rng.sample(range(1, args.files + 1), min(1000, args.files))
                started = time.perf_counter()
                ki.search(conn, query, also_score=semantic_top)
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                baseline(conn, query)
                plain.append(time.perf_counter() - started)
        # One file's OCR text arriving, and a file removed: what the background job and the watcher pay.
        started = time.perf_counter()
        for file_id in range(1, 201):
            conn.execute("BEGIN")
            ki.set_fields(conn, file_id, {"ocr": "Invoice 4711 Total 42 ACME Supplies"})
            conn.execute("COMMIT")
        update_ms = (time.perf_counter() - started) / 200 * 1000
        started = time.perf_counter()
        conn.execute("BEGIN")
        ki.remove_files(conn, range(201, 1201))
        conn.execute("COMMIT")
        remove_ms = (time.perf_counter() - started) / 1000 * 1000
        conn.close()
    print(f"\nKeyword index, {args.files:,} files, {len(queries)} queries x {args.rounds} rounds\n")
    print("| measure | value |")
    print("| --- | ---: |")
    print(f"| build, files/s (committed every 1,000) | {args.files / build_s:,.0f} |")
    print(f"| database size, MiB | {size:.1f} |")
    print(f"| query p50 / p95, ms: keyword_index.search (also_score = 1,000) | {percentile(ours, 50) * 1000:.1f} / {percentile(ours, 95) * 1000:.1f} |")
    print(f"| query p50 / p95, ms: plain FTS5 bm25, same words OR-ed, LIMIT 1000 | {percentile(plain, 50) * 1000:.1f} / {percentile(plain, 95) * 1000:.1f} |")
    print(f"| ratio p50 (ours / plain) | {percentile(ours, 50) / percentile(plain, 50):.2f} |")
    print(f"| one file's OCR text written (own transaction), ms | {update_ms:.2f} |")
    print(f"| one file removed (1,000 in one transaction), ms | {remove_ms:.3f} |")


if __name__ == "__main__":
    main()
