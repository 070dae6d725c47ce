"""What wiring metadata, keywords and the search box into the core costs, as ratios measured in one run.

``python -m benchmarks.search_wiring [--photos 48] [--rounds 3] [--files 20000] [--rows 100000] [--queries 40]
[--model DIR] [--only index rescan query]`` (about 10 minutes on 2 cores at the defaults)

1. **Indexing**: the same photos (``benchmarks.photos``' 4 MP JPEGs given phone-like EXIF, XMP and IPTC as
   ``benchmarks.metadata.extraction`` writes them) indexed by the real scanner and pipeline with metadata and
   keywords (the decode workers read the headers from the image they opened, each batch writes the metadata rows
   and tag words, the scan writes names) and without (no fact writer, names not written), a fresh index each,
   alternating, medians of ``--rounds``. The default model costs nothing, so the ratio is the worst case (all
   decoding); ``--model DIR`` uses a real CLIP-shaped model (``benchmarks/make_models.py``), whose time dilutes it.
2. **Rescan**: ``--files`` tiny JPEGs in 1,000-file folders: the first scan writing names into the keyword index
   against one that does not; an unchanged rescan (it writes nothing either way) against the same rescan plus what
   a session start adds, the metadata backfill's and the OCR job's first queries (both find nothing to do).
3. **Query**: ``--rows`` synthetic photos (512-d unit vectors; metadata shaped like ``benchmarks.metadata.filters``';
   keyword documents from ``benchmarks.text_corpus``): the search box (reading the query, filters, keywords,
   fusion, results with their metadata; ``LibrarySearch.search``) against plain semantic search
   (``Searcher.search``), the same distinct queries interleaved. Text encoding is a stand-in costing nothing, so
   the ratio is of our work alone; the real text tower adds the same milliseconds to both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from benchmarks.common import WORK, machine, percentile, wait_for_quiet
from xmr_desktop.engine.preprocess import ImageSpec

DIM = 512
BOX_QUERIES = ["beach 2023", "sunset in Paris", "iphone screenshots", "2019", "snow last winter", "dog with the Fuji",
               "passport", "Trip to Rome", "在巴黎", "去年夏天的海边", "kids at the park in July 2021", "receipt 2022"]


class FreeModel:
    """A model that costs nothing: what is left to time is reading, decoding, metadata and the index."""

    def __init__(self, dim: int = DIM) -> None:
        self.model_id = "bench-free"
        self.name = "free"
        self.image_spec = ImageSpec(shortest_edge=224, crop=(224, 224))
        self.device = "none"
        self._dim = dim

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        return _unit(np.random.default_rng(len(pixels)).standard_normal((len(pixels), self._dim)).astype(np.float32))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        rows = [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self._dim) for t in texts]
        return _unit(np.asarray(rows, np.float32))


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@contextmanager
def names_not_indexed() -> Iterator[None]:
    """The scan as before keyword search: no names written into the keyword index."""
    from xmr_desktop.library.store import store as store_module

    real = store_module.keyword_index.index_file_paths
    store_module.keyword_index.index_file_paths = lambda conn, files: None  # type: ignore[assignment]
    try:
        yield
    finally:
        store_module.keyword_index.index_file_paths = real  # type: ignore[assignment]


def _places():  # type: ignore[no-untyped-def]
    from xmr_desktop.metadata.place_lookup import PlaceLookup

    lookup = PlaceLookup.shared(WORK / "places-cache")
    lookup.get()  # built and loaded before anything is timed
    return lookup


# -- 1. indexing ------------------------------------------------------------------------------------------------


def photo_folder(count: int) -> Path:
    from benchmarks.metadata.extraction import with_metadata
    from benchmarks.photos import make_set

    folder = WORK / f"metadata-photos-{count}"
    if not (folder / ".complete").is_file():
        plain = make_set(WORK / f"plain-{count}", count, WORK / "photos-src")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i, source in enumerate(sorted(plain.glob("*.jpg"))):
            target = folder / source.name
            target.write_bytes(source.read_bytes())
            with_metadata(target, i)
        (folder / ".complete").write_text(f"{count}\n")
    return folder


def index_once(folder: Path, model: Any, wired: bool) -> float:
    from xmr_desktop.library.photo_facts import FactWriter
    from xmr_desktop.library.pipeline import IndexPipeline
    from xmr_desktop.library.scanner import sync_folder
    from xmr_desktop.library.store import Store

    with tempfile.TemporaryDirectory(dir=WORK) as tmp, Store.open(Path(tmp) / "index.sqlite3") as store:
        started = time.perf_counter()
        registered = store.add_folder(str(folder))
        if wired:
            sync_folder(store, registered)
        else:
            with names_not_indexed():
                sync_folder(store, registered)
        pipeline = IndexPipeline(store, model, facts=FactWriter(_places()) if wired else None)
        while pipeline.step() is not None:
            pass
        pipeline.close()
        return time.perf_counter() - started


def indexing(args: argparse.Namespace) -> dict[str, float]:
    folder = photo_folder(args.photos)
    if args.model:
        from xmr_desktop.engine.embedder import load_embedder

        model: Any = load_embedder(str(args.model), Path("/nonexistent-models-dir"))
    else:
        model = FreeModel()
    index_once(folder, model, True)  # warm-up: file cache, decoders, the model's first call
    times: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for wired in ((True, False) if round_ % 2 == 0 else (False, True)):
            wait_for_quiet()
            times[wired].append(index_once(folder, model, wired))
    with_, without = statistics.median(times[True]), statistics.median(times[False])
    return {"photos": args.photos, "wired_photos_per_s": args.photos / with_, "plain_photos_per_s": args.photos / without,
            "throughput_ratio": without / with_}


# -- 2. rescan --------------------------------------------------------------------------------------------------


def rescan(args: argparse.Namespace) -> dict[str, float]:
    from benchmarks.rescan import make_library
    from xmr_desktop.library.photo_facts import FactWriter, MetadataBackfill
    from xmr_desktop.library.scanner import sync_folder
    from xmr_desktop.library.store import Store
    from xmr_desktop.metadata import storage
    from xmr_desktop.ocr.jobs import DocumentPrompts, OcrMode, OcrSettings, next_ocr_tasks

    library = make_library(WORK / f"wiring-rescan-{args.files}", args.files)
    first: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for wired in ((True, False) if round_ % 2 == 0 else (False, True)):
            with tempfile.TemporaryDirectory(dir=WORK) as tmp, Store.open(Path(tmp) / "index.sqlite3") as store:
                folder = store.add_folder(str(library))
                wait_for_quiet()
                started = time.perf_counter()
                if wired:
                    sync_folder(store, folder)
                else:
                    with names_not_indexed():
                        sync_folder(store, folder)
                first[wired].append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp, Store.open(Path(tmp) / "index.sqlite3") as store:
        folder = store.add_folder(str(library))
        sync_folder(store, folder)
        with store.transaction() as conn:  # as after indexing: every photo read, embedded, its metadata and OCR settled
            conn.execute("UPDATE files SET state = 'ok', content_hash = CAST(id AS BLOB)")
            conn.execute("INSERT INTO embeddings(model_id, content_hash, vector) SELECT 'm', content_hash, zeroblob(6) FROM files")
            conn.execute(f"INSERT INTO {storage.TABLE}(file_id, reader_version, file_size, file_mtime_ns) "
                         "SELECT id, ?, size, mtime_ns FROM files", (storage.READER_VERSION,))
            conn.execute("INSERT INTO ocr_results(content_hash, status, langs, engine, done_at) "
                         "SELECT content_hash, 'not_selected', 'eng', 't', 0 FROM files")
        settings = OcrSettings(OcrMode.DOCUMENTS, ("eng",), "t", "m")
        prompts = DocumentPrompts(np.eye(3)[:1], np.eye(3)[1:2])
        plain, session = [], []
        for _ in range(args.rounds):
            wait_for_quiet()
            started = time.perf_counter()
            sync_folder(store, folder)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            sync_folder(store, folder)
            MetadataBackfill(store, FactWriter(None)).step()
            next_ocr_tasks(store.connection, settings, prompts, limit=1, max_chunks=1)
            session.append(time.perf_counter() - started)
    return {"files": args.files, "first_scan_ratio": statistics.median(first[True]) / statistics.median(first[False]),
            "first_scan_s": statistics.median(first[True]), "first_scan_plain_s": statistics.median(first[False]),
            "unchanged_rescan_s": statistics.median(plain), "session_start_ratio": statistics.median(session) / statistics.median(plain)}


# -- 3. query ---------------------------------------------------------------------------------------------------


def build_library(path: Path, rows: int) -> None:
    """Files, vectors, metadata and keyword documents of ``rows`` synthetic photos (kept between runs)."""
    from benchmarks import text_corpus
    from benchmarks.metadata.filters import CAMERAS
    from xmr_desktop.library.store import Store
    from xmr_desktop.metadata import storage
    from xmr_desktop.search.filters import local_seconds
    from xmr_desktop.textsearch import keyword_index

    done = path.with_suffix(".complete")
    if done.is_file():
        return
    shutil.rmtree(path.parent, ignore_errors=True)
    path.parent.mkdir(parents=True)
    gazetteer = _places().get()
    towns = [p for name in ("Paris", "Lisbon", "Tokyo", "London", "Beijing", "Rome", "Berlin", "New York City")
             for p in gazetteer.named(name)[:2] if p.kind == "city"]
    rng = np.random.default_rng(0)
    docs = list(text_corpus.documents(rows))
    start, end = local_seconds(datetime(2010, 1, 1)), local_seconds(datetime(2026, 1, 1))
    with Store.open(path) as store:
        folder = store.add_folder("/home/user/Pictures")
        with store.transaction() as conn:
            conn.executemany(
                "INSERT INTO files(id, folder_id, path, size, mtime_ns, content_hash, state, width, height) VALUES (?, ?, ?, 1, 1, ?, 'ok', 4032, 3024)",
                ((i, folder.id, os.fsencode(f"{d['folder']}/{d['name']}-{i}.jpg"), i.to_bytes(16, "little")) for i, d in docs))
            for first in range(0, rows, 20_000):
                vectors = _unit(rng.standard_normal((min(20_000, rows - first), DIM)).astype(np.float32)).astype("<f2")
                conn.executemany("INSERT INTO embeddings(model_id, content_hash, vector) VALUES ('bench-free', ?, ?)",
                                 (((first + j + 1).to_bytes(16, "little"), v.tobytes()) for j, v in enumerate(vectors)))
            for i in range(1, rows + 1):
                gps = rng.random() < 0.4
                town = towns[int(rng.integers(len(towns)))]
                local = int(rng.integers(start, end))
                camera = CAMERAS[int(rng.integers(len(CAMERAS)))]
                conn.execute(
                    f"""INSERT INTO {storage.TABLE}(file_id, reader_version, file_size, file_mtime_ns, taken_local,
                    taken_source, taken_month, camera, camera_make, latitude, longitude, city, city_id, country_code,
                    country, region_code, place_source, kind, file_format) VALUES (?,?,1,1,?,'exif',?,?,?,?,?,?,?,?,?,?,?,?,'jpeg')""",
                    (i, storage.READER_VERSION, local, (datetime(1970, 1, 1) + timedelta(seconds=local)).month, camera,
                     camera.split()[0], town.latitude + rng.normal(0, 0.03) if gps else None,
                     town.longitude + rng.normal(0, 0.03) if gps else None, town.name if gps else None,
                     town.city_id if gps else None, town.country_code if gps else None, None,
                     town.region_code if gps else None, "gps" if gps else None,
                     "screenshot" if rng.random() < 0.05 else "photo"))
            for file_id, fields in docs:
                keyword_index.set_fields(conn, file_id, fields)
        store.connection.execute("ANALYZE")
    done.write_text(f"{rows}\n")


def query(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import text_corpus
    from xmr_desktop.library.store import Store
    from xmr_desktop.search.library_search import LibrarySearch
    from xmr_desktop.search.searcher import Searcher

    path = WORK / f"wiring-query-{args.rows}" / "index.sqlite3"
    build_library(path, args.rows)
    mix = (BOX_QUERIES + text_corpus.queries())[: args.queries]
    with Store.open(path) as store:
        searcher = Searcher(store, FreeModel())
        box = LibrarySearch(searcher, _places())
        searcher.search("load the vectors", 50)
        box.search("load the columns", 50)
        times: dict[str, list[float]] = {"plain": [], "box": []}
        kinds: dict[str, list[float]] = {}
        for round_ in range(args.rounds):
            wait_for_quiet()
            for i, text in enumerate(mix):
                runs: list[tuple[str, Callable[[], object]]] = [
                    ("plain", lambda: searcher.search(text, 50)), ("box", lambda: box.search(text, 50))]
                for name, run in (runs if (i + round_) % 2 == 0 else runs[::-1]):
                    started = time.perf_counter()
                    answer = run()
                    times[name].append(time.perf_counter() - started)
                    if name == "box":
                        kind = answer.ranked_by + (" + filters" if answer.reading and answer.reading.parts else "")  # type: ignore[attr-defined]
                        kinds.setdefault(kind, []).append(times[name][-1])
    ms = {name: {"p50": percentile(v, 50) * 1000, "p95": percentile(v, 95) * 1000} for name, v in times.items()}
    return {"rows": args.rows, "queries": len(mix), "ms": ms, "p50_ratio": ms["box"]["p50"] / ms["plain"]["p50"],
            "p95_ratio": ms["box"]["p95"] / ms["plain"]["p95"],
            "box_p50_ms_by_kind": {k: percentile(v, 50) * 1000 for k, v in sorted(kinds.items())},
            "box_count_by_kind": {k: len(v) // args.rounds for k, v in sorted(kinds.items())}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None, help="a CLIP model folder (default: a model that costs nothing)")
    parser.add_argument("--only", action="append", choices=("index", "rescan", "query"))
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine()}
    sections = args.only or ["index", "rescan", "query"]
    if "index" in sections:
        report["index"] = result = indexing(args)
        print(f"indexing {result['photos']} 4 MP photos: {result['wired_photos_per_s']:.1f} photos/s with metadata and "
              f"keywords, {result['plain_photos_per_s']:.1f} without: throughput ratio {result['throughput_ratio']:.3f}", flush=True)
    if "rescan" in sections:
        report["rescan"] = result = rescan(args)
        print(f"first scan of {result['files']} files with names indexed: {result['first_scan_ratio']:.2f}x the scan without "
              f"({result['first_scan_s']:.2f} s vs {result['first_scan_plain_s']:.2f} s); unchanged rescan "
              f"{result['unchanged_rescan_s']:.2f} s, with a session's first metadata and OCR queries "
              f"{result['session_start_ratio']:.3f}x", flush=True)
    if "query" in sections:
        report["query"] = result = query(args)
        ms = result["ms"]
        print(f"queries at {result['rows']} photos ({result['queries']} distinct x {args.rounds}): search box p50/p95 "
              f"{ms['box']['p50']:.1f}/{ms['box']['p95']:.1f} ms, plain semantic {ms['plain']['p50']:.1f}/"
              f"{ms['plain']['p95']:.1f} ms: {result['p50_ratio']:.2f}x / {result['p95_ratio']:.2f}x", flush=True)
        for kind, value in result["box_p50_ms_by_kind"].items():
            print(f"  {kind:32} p50 {value:6.1f} ms  ({result['box_count_by_kind'][kind]} queries)")
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
