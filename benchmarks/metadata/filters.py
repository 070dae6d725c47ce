"""Filter evaluation at 100k and 1M photos, and reading a query, timed in one run.

Synthetic ``photo_metadata`` rows (dates 2005-2025, 40% with GPS around 60 towns, 12 cameras, 5% screenshots,
2% panoramas) in a real SQLite file with the table's indexes. Each filter's ``allowed_ids`` is timed (median of
``--repeats``) next to the baseline of fetching every id (every id of the table, fetched the same way), so the ratio
says what a filter costs beyond handing all ids to faiss. Reading queries is timed with the real gazetteer.

Usage: python -m benchmarks.metadata.filters [--rows 100000 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta

import numpy as np

from benchmarks.common import WORK, machine
from xmr_desktop.metadata import storage
from xmr_desktop.metadata.places import Gazetteer
from xmr_desktop.metadata.vocabulary import LibraryVocabulary
from xmr_desktop.search.filters import (
    CameraFilter,
    CityArea,
    DateFilter,
    FolderFilter,
    PlaceFilter,
    TypeFilter,
    allowed_ids,
    local_seconds,
)
from xmr_desktop.search.filter_columns import FilterColumns
from xmr_desktop.search.understand import QueryReader

CAMERAS = ["Apple iPhone 12", "Apple iPhone 14 Pro", "Samsung SM-G991B", "Google Pixel 7", "FUJIFILM X-T3",
           "Canon EOS R5", "Nikon D750", "Sony ILCE-7M3", "HUAWEI ELE-L29", "Xiaomi M2007J3SG", "DJI FC3170", "GoPro HERO9"]


def build(path: str, rows: int, gazetteer: Gazetteer) -> None:
    rng = np.random.default_rng(0)
    towns = [p for name in ("Paris", "Lisbon", "Tokyo", "New York City", "London", "Beijing", "Sydney", "Berlin",
                            "Rome", "Madrid", "Shanghai", "Seoul", "Bangkok", "Toronto", "Mexico City")
             for p in gazetteer.named(name)[:4] if p.kind == "city"]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, folder_id INTEGER, path BLOB UNIQUE, size INTEGER,"
                 " mtime_ns INTEGER, content_hash BLOB, state TEXT, skip_reason TEXT, width INTEGER, height INTEGER)")
    storage.create_tables(conn)
    start, end = local_seconds(datetime(2005, 1, 1)), local_seconds(datetime(2026, 1, 1))
    taken = rng.integers(start, end, rows)
    gps = rng.random(rows) < 0.4
    town = rng.integers(0, len(towns), rows)
    jitter = rng.normal(0, 0.05, (rows, 2))
    camera = rng.integers(0, len(CAMERAS), rows)
    kind = rng.choice(["photo", "screenshot", "panorama"], rows, p=[0.93, 0.05, 0.02])
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO files VALUES (?, 1, ?, 100, 5, NULL, 'ok', NULL, 0, 0)",
                     ((i + 1, f"/photos/{i % 50:02d}/{i:07d}.jpg".encode()) for i in range(rows)))
    def row(i: int) -> tuple[object, ...]:
        t = towns[town[i]]
        lat = float(t.latitude + jitter[i, 0]) if gps[i] else None
        lon = float(t.longitude + jitter[i, 1]) if gps[i] else None
        local = int(taken[i])
        month = (datetime(1970, 1, 1) + timedelta(seconds=local)).month
        return (i + 1, storage.READER_VERSION, 100, 5, local, None, "exif", month, CAMERAS[camera[i]],
                CAMERAS[camera[i]].split()[0], lat, lon, t.city_id if gps[i] else None,
                t.country_code if gps[i] else None, t.region_code if gps[i] else None, str(kind[i]), "jpeg")
    conn.executemany(
        f"""INSERT INTO {storage.TABLE}(file_id, reader_version, file_size, file_mtime_ns, taken_local,
        taken_offset_min, taken_source, taken_month, camera, camera_make, latitude, longitude, city_id,
        country_code, region_code, kind, file_format) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        (row(i) for i in range(rows)),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def timed(fn, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    values, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        values.append(time.perf_counter() - start)
    return statistics.median(values), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    gazetteer = Gazetteer(WORK / "places-cache")
    paris = next(p for p in gazetteer.named("Paris") if p.kind == "city")
    year = DateFilter(ranges=((local_seconds(datetime(2023, 1, 1)), local_seconds(datetime(2024, 1, 1))),))
    cases = {
        "year 2023": [[year]],
        "July, any year": [[DateFilter(months=frozenset({7}))]],
        "country FR": [[PlaceFilter(countries=frozenset({"FR"}))]],
        "town Paris (id or 10 km disc)": [[PlaceFilter(cities=(CityArea(paris.city_id, "Paris", paris.latitude, paris.longitude, paris.radius_km),))]],  # type: ignore[arg-type]
        "camera iPhone 12": [[CameraFilter(cameras=frozenset({"Apple iPhone 12"}))]],
        "screenshots": [[TypeFilter(kinds=frozenset({"screenshot"}))]],
        "photos (93%)": [[TypeFilter(kinds=frozenset({"photo"}))]],
        "2023 + FR + iPhone 12": [[year], [PlaceFilter(countries=frozenset({"FR"}))], [CameraFilter(cameras=frozenset({"Apple iPhone 12"}))]],
        "folder (2%)": [[FolderFilter("/photos/07")]],
    }
    report: dict[str, dict[str, float]] = {}
    for rows in args.rows:
        with tempfile.TemporaryDirectory(dir=WORK if WORK.is_dir() else None) as tmp:
            path = os.path.join(tmp, "index.sqlite3")
            build(path, rows, gazetteer)
            conn = sqlite3.connect(path, isolation_level=None)
            def every_id() -> np.ndarray:  # the same fetch allowed_ids does, without a WHERE
                (joined,) = conn.execute(f"SELECT group_concat(file_id) FROM {storage.TABLE}").fetchone()
                return np.fromstring(joined, dtype=np.int64, sep=",")

            base, _ = timed(every_id, args.repeats)
            load, columns = timed(lambda: FilterColumns.load(conn), 1)
            print(f"\n{rows:,} photos: fetching every id takes {base * 1000:.1f} ms (baseline 1.00x); "
                  f"loading the in-memory columns {load * 1000:.0f} ms")
            print(f"  {'filter':<32} {'SQL (allowed_ids)':>19} {'in memory (FilterColumns)':>27}")
            report[str(rows)] = {"all_ids_ms": base * 1000, "columns_load_ms": load * 1000}
            for name, groups in cases.items():
                seconds, ids = timed(lambda: allowed_ids(conn, groups), args.repeats)
                memory, same = timed(lambda: columns.allowed_ids(groups, conn), args.repeats)  # type: ignore[union-attr]
                assert np.array_equal(ids, same), name  # type: ignore[arg-type]
                print(f"  {name:<32} {seconds * 1000:8.1f} ms {seconds / base:5.2f}x   {memory * 1000:8.1f} ms {memory / base:5.2f}x"
                      f"   {len(ids):>9,} ids")  # type: ignore[arg-type]
                report[str(rows)][name] = seconds * 1000
                report[str(rows)][f"{name} (columns)"] = memory * 1000
            vocabulary_s, _ = timed(lambda: columns.vocabulary().cameras(), 1)  # type: ignore[union-attr]
            print(f"  the library's cameras and places from the columns: {vocabulary_s * 1000:.1f} ms")
            reader = QueryReader(vocabulary=LibraryVocabulary(conn), gazetteer=gazetteer, today=date(2025, 3, 10))
            for text in ("beach in Portugal 2023", "去年夏天在东京", "sunset with the Fuji last summer", "kids on a red slide"):
                first, _ = timed(lambda: QueryReader(vocabulary=LibraryVocabulary(conn), gazetteer=gazetteer).read(text), 1)
                warm, _ = timed(lambda: reader.read(text), args.repeats)
                print(f"  read {text!r:<38} {warm * 1000:6.2f} ms warm, {first * 1000:6.1f} ms with a fresh SQL vocabulary")
                report[str(rows)][f"read {text}"] = warm * 1000
            conn.close()
    print(json.dumps({"filters_ms": report, "machine": machine()}))


if __name__ == "__main__":
    main()
