"""The ``photo_metadata`` table of the index: its DDL, writing and reading rows, and what still needs reading.

One row per file, keyed by ``files.id`` and deleted with it (``ON DELETE CASCADE``; the store turns foreign
keys on). A row remembers the size, mtime and reader version it was read from, so ``pending`` finds every file
whose metadata is missing, stale (the file changed: the scan updates ``files.size``/``mtime_ns``) or read by an
older reader — the same query serves the migration of an existing index, changed files and reader upgrades.

Dates are stored as ``taken_local``, wall-clock seconds (see ``TakenAt.local_seconds``), plus the UTC offset
in minutes when known: "2023" is one integer range on an indexed column, and sorting by it orders photos by
the clock where they were taken (photos from two zones may swap by the zones' difference; the day headers of a
date-sorted grid then agree with the dates people remember).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from xmr_desktop.metadata.reader import READER_VERSION
from xmr_desktop.metadata.record import PhotoMetadata, Place, TakenAt

TABLE = "photo_metadata"
_KEYS_PER_QUERY = 500

_COLUMNS = (
    "file_id", "reader_version", "file_size", "file_mtime_ns", "taken_local", "taken_offset_min", "taken_source",
    "taken_month", "camera", "camera_make", "camera_model", "lens", "latitude", "longitude", "altitude", "city",
    "city_id", "region", "region_code", "country_code", "country", "place_source", "title", "description",
    "keywords", "rating", "width", "height", "file_format", "kind",
)


def create_tables(conn: sqlite3.Connection) -> None:
    """The metadata table and its indexes; a schema migration step of the index (idempotent).

    Indexes: ``taken_local`` (date ranges, sorting by date), ``taken_month, taken_local`` (months, seasons and
    days of any year), ``country_code, region_code`` (countries, regions), ``city_id`` and ``latitude,
    longitude`` (towns: by id, or by a disc around their centre), ``camera``, ``kind``, ``file_format``. Each holds every column
    its filter tests, so a filter is answered from its index alone.
    """
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
            reader_version INTEGER NOT NULL,
            file_size INTEGER NOT NULL,
            file_mtime_ns INTEGER NOT NULL,
            taken_local INTEGER,
            taken_offset_min INTEGER,
            taken_source TEXT CHECK (taken_source IN ('exif', 'xmp', 'iptc', 'filename', 'mtime')),
            taken_month INTEGER,
            camera TEXT,
            camera_make TEXT,
            camera_model TEXT,
            lens TEXT,
            latitude REAL,
            longitude REAL,
            altitude REAL,
            city TEXT,
            city_id INTEGER,
            region TEXT,
            region_code TEXT,
            country_code TEXT,
            country TEXT,
            place_source TEXT CHECK (place_source IN ('gps', 'tags')),
            title TEXT,
            description TEXT,
            keywords TEXT NOT NULL DEFAULT '[]',
            rating INTEGER,
            width INTEGER NOT NULL DEFAULT 0,
            height INTEGER NOT NULL DEFAULT 0,
            file_format TEXT,
            kind TEXT NOT NULL DEFAULT 'photo' CHECK (kind IN ('photo', 'screenshot', 'panorama'))
        )"""
    )
    for name, columns in (
        ("taken", "taken_local"),
        ("month", "taken_month, taken_local"),
        ("country", "country_code, region_code"),
        ("city", "city_id"),
        ("camera", "camera"),
        ("kind", "kind"),
        ("format", "file_format"),
    ):
        conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_{name} ON {TABLE}({columns})")
    # Both coordinates: a town's disc is then tested from the index alone, without reading rows.
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {TABLE}_position ON {TABLE}(latitude, longitude) WHERE latitude IS NOT NULL"
    )


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    if conn.in_transaction:  # the caller's transaction (e.g. an indexing batch) includes our rows
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _row(file_id: int, meta: PhotoMetadata, size: int, mtime_ns: int) -> tuple[object, ...]:
    taken, place = meta.taken, meta.place
    return (
        file_id, READER_VERSION, size, mtime_ns,
        taken.local_seconds if taken else None, taken.offset_minutes if taken else None,
        taken.source if taken else None, taken.local.month if taken else None,
        meta.camera, meta.camera_make, meta.camera_model, meta.lens, meta.latitude, meta.longitude, meta.altitude,
        place.city if place else None, place.city_id if place else None, place.region if place else None,
        place.region_code if place else None, place.country_code if place else None,
        place.country if place else None, place.source if place else None,
        meta.title, meta.description, json.dumps(list(meta.keywords), ensure_ascii=False), meta.rating,
        meta.width, meta.height, meta.file_format, meta.kind,
    )


def write(conn: sqlite3.Connection, file_id: int, meta: PhotoMetadata, *, size: int, mtime_ns: int) -> None:
    """Store (or replace) one file's metadata, read from the file at this ``size`` and ``mtime_ns``."""
    write_many(conn, [(file_id, meta, size, mtime_ns)])


def write_many(conn: sqlite3.Connection, rows: Iterable[tuple[int, PhotoMetadata, int, int]]) -> int:
    """Store ``(file_id, metadata, size, mtime_ns)`` rows in one transaction (or the caller's); returns how
    many were written. Rows of files deleted meanwhile are dropped, not errors."""
    marks = ",".join("?" * len(_COLUMNS))
    written = 0
    with _transaction(conn):
        for file_id, meta, size, mtime_ns in rows:
            # INSERT ... SELECT: writes nothing when the file's row is gone (deleted while we read it).
            cursor = conn.execute(
                f"INSERT OR REPLACE INTO {TABLE}({','.join(_COLUMNS)}) SELECT {marks} "
                "WHERE EXISTS (SELECT 1 FROM files WHERE id = ?)",
                (*_row(file_id, meta, size, mtime_ns), file_id),
            )
            written += cursor.rowcount
    return written


def _metadata(row: sqlite3.Row | Sequence[object]) -> PhotoMetadata:
    values = dict(zip(_COLUMNS, row))
    taken = None
    if values["taken_local"] is not None:
        local = datetime(1970, 1, 1) + timedelta(seconds=int(values["taken_local"]))  # type: ignore[arg-type]
        taken = TakenAt(local, values["taken_offset_min"], values["taken_source"])  # type: ignore[arg-type]
    place = None
    if values["place_source"]:
        place = Place(
            city=values["city"], region=values["region"], country_code=values["country_code"],  # type: ignore[arg-type]
            country=values["country"], city_id=values["city_id"], source=values["place_source"],  # type: ignore[arg-type]
            region_code=values["region_code"],  # type: ignore[arg-type]
        )
    try:
        keywords = tuple(str(k) for k in json.loads(values["keywords"] or "[]"))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        keywords = ()
    return PhotoMetadata(
        taken=taken, camera=values["camera"], camera_make=values["camera_make"],  # type: ignore[arg-type]
        camera_model=values["camera_model"], lens=values["lens"], latitude=values["latitude"],  # type: ignore[arg-type]
        longitude=values["longitude"], altitude=values["altitude"], place=place, keywords=keywords,  # type: ignore[arg-type]
        title=values["title"], description=values["description"], rating=values["rating"],  # type: ignore[arg-type]
        width=int(values["width"] or 0), height=int(values["height"] or 0),  # type: ignore[arg-type]
        file_format=values["file_format"], kind=values["kind"] or "photo",  # type: ignore[arg-type]
    )


def read(conn: sqlite3.Connection, file_ids: Iterable[int]) -> dict[int, PhotoMetadata]:
    """``file id -> metadata`` for these files (e.g. the results shown); files without a row are absent."""
    ids = list(dict.fromkeys(int(i) for i in file_ids))
    found: dict[int, PhotoMetadata] = {}
    for start in range(0, len(ids), _KEYS_PER_QUERY):
        part = ids[start : start + _KEYS_PER_QUERY]
        sql = f"SELECT {','.join(_COLUMNS)} FROM {TABLE} WHERE file_id IN ({','.join('?' * len(part))})"
        for row in conn.execute(sql, part):
            found[int(row[0])] = _metadata(row)
    return found


@dataclass(frozen=True)
class PendingFile:
    """A file whose metadata is missing, stale or read by an older reader."""

    file_id: int
    path: str
    size: int
    mtime_ns: int


def pending(conn: sqlite3.Connection, limit: int = 256, after_id: int = 0) -> list[PendingFile]:
    """Files (not skipped as unreadable) whose metadata must be read, by id, from ``after_id`` on."""
    rows = conn.execute(
        f"""SELECT f.id, f.path, f.size, f.mtime_ns FROM files f LEFT JOIN {TABLE} m ON m.file_id = f.id
        WHERE f.id > ? AND f.state != 'skipped' AND (m.file_id IS NULL OR m.file_mtime_ns != f.mtime_ns
            OR m.file_size != f.size OR m.reader_version < ?)
        ORDER BY f.id LIMIT ?""",
        (after_id, READER_VERSION, limit),
    )
    return [PendingFile(int(i), os.fsdecode(path), int(size), int(mtime)) for i, path, size, mtime in rows]


def count_pending(conn: sqlite3.Connection) -> int:
    """How many files ``pending`` would list in all (for a progress bar)."""
    (count,) = conn.execute(
        f"""SELECT COUNT(*) FROM files f LEFT JOIN {TABLE} m ON m.file_id = f.id
        WHERE f.state != 'skipped' AND (m.file_id IS NULL OR m.file_mtime_ns != f.mtime_ns
            OR m.file_size != f.size OR m.reader_version < ?)""",
        (READER_VERSION,),
    ).fetchone()
    return int(count)
