"""The indexed photos as the duplicate finder needs them: one ``Photo`` per file with its image vector, read from
the index in one pass, and the date each was taken where the metadata table knows it.

Read inside one snapshot, so the photos and their vectors describe one moment of the index even while the app
indexes on another connection.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from xmr_desktop.library.duplicates import Photo
from xmr_desktop.library.photo_hash import CacheKey
from xmr_desktop.library.store import VECTOR_DTYPE, Store
from xmr_desktop.library.store.schema import corrupt

log = logging.getLogger(__name__)

_CHUNK_ROWS = 8192
METADATA_TABLE = "photo_metadata"


@dataclass(frozen=True)
class IndexedPhotos:
    """Photos with their vectors.

    Attributes:
        photos: one per indexed file, by file id; ``taken`` is filled where the metadata table has a real date.
        vectors: float16 rows, row ``i`` is photo ``i``'s unit image vector.
        hash_keys: ``(path, size, mtime_ns) -> content hash`` as the index recorded each photo (the perceptual-hash
            cache's key: a file that still has that size and mtime has that content).
    """

    photos: list[Photo]
    vectors: np.ndarray
    hash_keys: dict[CacheKey, bytes]


def read_photos(store: Store, model_id: str, folder: str | None = None) -> IndexedPhotos:
    """Every indexed photo (below ``folder``, any depth, when given) with a vector for ``model_id``, by file id.
    Raises IndexCorruptError if vector lengths differ."""
    # CROSS JOIN pins the plan: walk files (by id, or the folder's path range) and look each vector up by key.
    sql = """SELECT f.id, f.path, f.size, f.mtime_ns, f.content_hash, f.width, f.height, e.vector FROM files f
        CROSS JOIN embeddings e ON e.content_hash = f.content_hash AND e.model_id = ?
        WHERE f.state = 'ok'"""
    params: list[object] = [model_id]
    if folder is not None:
        prefix = os.fsencode(folder.rstrip(os.sep) + os.sep)
        # The byte strings from prefix up to prefix with its separator raised by one: exactly the paths below.
        sql += " AND f.path >= ? AND f.path < ?"
        params += [prefix, prefix[:-1] + bytes([prefix[-1] + 1])]
    photos: list[Photo] = []
    keys: dict[CacheKey, bytes] = {}
    chunks: list[np.ndarray] = []
    row_bytes: int | None = None
    with store.snapshot() as conn:
        taken = _dates_taken(conn)
        cursor = conn.execute(sql + " ORDER BY f.id", params)
        while rows := cursor.fetchmany(_CHUNK_ROWS):
            blobs = [row[7] for row in rows]
            if row_bytes is None:
                row_bytes = len(blobs[0])
            if not row_bytes or row_bytes % VECTOR_DTYPE.itemsize or any(len(b) != row_bytes for b in blobs):
                raise corrupt(store.path, f"vectors of model {model_id} differ in length")
            for file_id, raw_path, size, mtime_ns, digest, width, height, _ in rows:
                path = os.fsdecode(raw_path)
                photos.append(Photo(file_id, path, width, height, size, mtime_ns / 1e9, digest, taken.get(file_id)))
                keys[(path, size, mtime_ns)] = digest
            chunks.append(np.frombuffer(b"".join(blobs), dtype=VECTOR_DTYPE).reshape(len(rows), -1))
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, 1), VECTOR_DTYPE)
    return IndexedPhotos(photos, vectors, keys)


def _dates_taken(conn: sqlite3.Connection) -> dict[int, float]:
    """``file id -> date taken`` (seconds since the epoch) from the metadata table, where there is one.

    Only real dates (EXIF, XMP, IPTC, the file name): a date that is the modification time is left out, since
    the keeper choice falls back to that anyway. ``taken_local`` is the clock where the photo was taken; with
    its UTC offset it is an exact moment, without one it is read as this machine's local time.
    """
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({METADATA_TABLE})")}
    if "taken_local" not in columns:
        return {}
    offset = "taken_offset_min" if "taken_offset_min" in columns else "NULL"
    where = "taken_local IS NOT NULL" + (" AND taken_source IS NOT 'mtime'" if "taken_source" in columns else "")
    found: dict[int, float] = {}
    epoch = datetime(1970, 1, 1)
    for file_id, local, minutes in conn.execute(f"SELECT file_id, taken_local, {offset} FROM {METADATA_TABLE} WHERE {where}"):
        try:
            if minutes is not None:
                found[file_id] = float(local) - 60.0 * float(minutes)
            else:
                found[file_id] = (epoch + timedelta(seconds=int(local))).timestamp()  # naive: this machine's zone
        except (OverflowError, OSError, ValueError, TypeError):
            log.debug("ignoring the date taken of file %s: %r", file_id, local)
    return found
