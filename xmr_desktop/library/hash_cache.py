"""Perceptual hashes kept in the index (``photo_hashes``), keyed by content hash, so a second search for
duplicates decodes nothing.

Keyed by the content hash rather than the path: a renamed or moved photo, and every byte-identical copy of it,
share one row, and a photo whose bytes change gets a new content hash from the indexer, so a stale hash is never
read. Each row records the hashing ``METHOD`` it was computed with; rows of another method are ignored and
replaced, so a change to ``photo_hash`` never compares hashes of two kinds. A row is 28 bytes; ``value`` is NULL
for a photo too flat to hash (remembered too: it would be decoded again for nothing).

``HashCache`` is the mapping ``PerceptualHasher`` takes (``(path, size, mtime_ns) -> hash``): a file whose size
and modification time are still those the index recorded is looked up by its content hash; a file changed since
it was indexed is hashed again and kept in memory only, as its content hash is not known. ``save`` writes the new
rows in one short transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
from collections.abc import Iterator, MutableMapping

from xmr_desktop.library.photo_hash import CacheKey, PhotoHash

log = logging.getLogger(__name__)

TABLE = "photo_hashes"
# Bump when photo_hash changes what it computes: older rows are then recomputed, not compared.
METHOD = 1
_WHOLE_AND_CENTRE = struct.Struct(">QQ")


def create_table(conn: sqlite3.Connection) -> None:
    """The table; a schema migration step of the index (idempotent, reads no photo)."""
    # WITHOUT ROWID: the rows are tiny and always looked up by their key.
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            content_hash BLOB PRIMARY KEY,
            method INTEGER NOT NULL,
            value BLOB
        ) WITHOUT ROWID"""
    )


def encode(value: PhotoHash | None) -> bytes | None:
    if value is None:
        return None
    return _WHOLE_AND_CENTRE.pack(value.whole, value.centre) + bytes(value.colours)


def decode(blob: bytes | None) -> PhotoHash | None:
    """The hash a row holds; None for a photo that was too flat. Raises ``ValueError`` for a damaged row."""
    if blob is None:
        return None
    data = bytes(blob)
    if len(data) not in (16, 28):
        raise ValueError(f"a stored perceptual hash has {len(data)} bytes")
    whole, centre = _WHOLE_AND_CENTRE.unpack_from(data)
    return PhotoHash(whole, centre, tuple(data[16:]))


class HashCache(MutableMapping[CacheKey, "PhotoHash | None"]):
    """``PerceptualHasher``'s cache over the ``photo_hashes`` table; see the module docstring.

    Use it on the thread that owns ``conn``. Lookups read one row each (only photos in candidate pairs are
    asked for); writes wait in ``new`` until ``save``.

    Attributes:
        known: ``(path, size, mtime_ns) -> content hash`` of the photos as the index recorded them.
        new: rows computed since the last ``save``, by content hash.
    """

    def __init__(self, conn: sqlite3.Connection, known: dict[CacheKey, bytes]) -> None:
        self._conn = conn
        self.known = known
        self.new: dict[bytes, PhotoHash | None] = {}
        self._read: dict[bytes, PhotoHash | None] = {}
        self._unindexed: dict[CacheKey, PhotoHash | None] = {}  # changed since indexed: no content hash yet

    def __getitem__(self, key: CacheKey) -> PhotoHash | None:
        digest = self.known.get(key)
        if digest is None:
            return self._unindexed[key]
        if digest in self.new:
            return self.new[digest]
        if digest not in self._read:
            row = self._conn.execute(
                f"SELECT value FROM {TABLE} WHERE content_hash = ? AND method = ?", (digest, METHOD)
            ).fetchone()
            if row is None:
                raise KeyError(key)
            try:
                self._read[digest] = decode(row[0])
            except ValueError as error:  # recomputed and overwritten by the next save
                log.warning("ignoring a damaged perceptual hash: %s", error)
                raise KeyError(key) from error
        return self._read[digest]

    def __setitem__(self, key: CacheKey, value: PhotoHash | None) -> None:
        digest = self.known.get(key)
        if digest is None:
            self._unindexed[key] = value
        else:
            self.new[digest] = value

    def __delitem__(self, key: CacheKey) -> None:
        digest = self.known.get(key)
        if digest is None:
            del self._unindexed[key]
        else:
            self.new.pop(digest, None)
            self._read.pop(digest, None)

    def __iter__(self) -> Iterator[CacheKey]:
        # Only what this object holds in memory; the table is not listed.
        by_digest = {digest: key for key, digest in self.known.items()}
        yield from (by_digest[d] for d in {**self._read, **self.new} if d in by_digest)
        yield from self._unindexed

    def __len__(self) -> int:
        return sum(1 for _ in self)


def save(conn: sqlite3.Connection, rows: dict[bytes, PhotoHash | None], *, prune: bool = False) -> int:
    """Write ``rows`` (content hash -> hash) inside the caller's write transaction; returns rows written.

    ``prune`` also drops rows whose content hash no file in the index has any more (after a search over the
    whole library; a photo restored from the trash is simply hashed again).
    """
    conn.executemany(
        f"INSERT OR REPLACE INTO {TABLE}(content_hash, method, value) VALUES (?, ?, ?)",
        ((digest, METHOD, encode(value)) for digest, value in rows.items()),
    )
    if prune:
        gone = conn.execute(
            f"DELETE FROM {TABLE} WHERE content_hash NOT IN "
            "(SELECT content_hash FROM files WHERE content_hash IS NOT NULL)"
        ).rowcount
        if gone:
            log.info("dropped %d perceptual hashes of photos no longer indexed", gone)
    return len(rows)
