"""The SQLite index: indexed folders, the files found in them, and CLIP vectors keyed by content hash.

Raw ``sqlite3``, WAL mode, one connection per ``Store`` and thread (the GUI reads while the indexing worker
writes). The schema version lives in ``PRAGMA user_version`` and moves up one migration at a time.
Paths are stored as ``os.fsencode`` bytes so names that are not valid UTF-8 round-trip; the API speaks ``str``.
Vectors are stored as little-endian float16 (half the disk; cosine changes by ~1e-3, which does not reorder
512-d CLIP rankings). Single vectors come back as float32, because numpy computes on float16 slowly;
``iter_vectors`` streams the whole collection as float16 for the search index, which keeps them at that size.
Whether a file is embedded for a model is derived (an ``embeddings`` row for its hash and that model exists),
so switching models never rewrites ``files`` and identical photos share one vector.
"""

from __future__ import annotations

import bisect
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from xmr_desktop.errors import IndexCorruptError, IndexTooNewError, UnknownFolderError, XmrError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 5.0
# Keys bound per "IN (...)" query: well under SQLite's variable limit (999 before 3.32).
_KEYS_PER_QUERY = 500
# Files listed by changed_since() before it gives up and says "reload everything".
_CHANGE_LIST_CAP = 65_536
VECTOR_DTYPE = np.dtype("<f2")


@dataclass(frozen=True)
class Folder:
    """An indexed folder; ``path`` is absolute, ``paused`` folders are skipped by ``Store.pending``."""

    id: int
    path: str
    added_at: float
    paused: bool


@dataclass(frozen=True)
class FileRecord:
    """One photo file. ``state`` is 'pending' (hash unknown), 'ok' (decodable, hashed) or 'skipped'."""

    id: int
    folder_id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: bytes | None
    state: str
    skip_reason: str | None
    width: int
    height: int


@dataclass(frozen=True)
class FolderCounts:
    """Files per state for one model: ``pending`` counts everything neither indexed nor skipped."""

    indexed: int
    skipped: int
    pending: int
    total: int


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE folders (
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,
            added_at REAL NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0
        )"""
    )
    conn.execute(
        """CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            path BLOB NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            content_hash BLOB,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ok', 'skipped')),
            skip_reason TEXT,
            width INTEGER NOT NULL DEFAULT 0,
            height INTEGER NOT NULL DEFAULT 0
        )"""
    )
    conn.execute("CREATE INDEX files_folder ON files(folder_id)")
    conn.execute("CREATE INDEX files_hash ON files(content_hash)")
    # A rowid table, not WITHOUT ROWID: 1 KiB vector rows are far past SQLite's ~200-byte guideline for
    # WITHOUT ROWID; measured at 100k vectors it made the file 3x larger and counts()/pending() 15x slower.
    # model_id leads the key so per-model queries (known_hashes, the dimension check) seek a key range.
    conn.execute(
        """CREATE TABLE embeddings (
            model_id TEXT NOT NULL,
            content_hash BLOB NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model_id, content_hash)
        )"""
    )


# _MIGRATIONS[i] takes a database from version i to version i + 1; append, never edit a released step.
_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_to_1]
SCHEMA_VERSION = len(_MIGRATIONS)

_FILE_COLUMNS = (
    "f.id, f.folder_id, f.path, f.size, f.mtime_ns, f.content_hash, f.state, f.skip_reason, f.width, f.height"
)


def _record(row: Sequence[Any]) -> FileRecord:
    return FileRecord(row[0], row[1], os.fsdecode(row[2]), row[3], row[4], row[5], row[6], row[7], row[8], row[9])


def _folder(row: Sequence[Any]) -> Folder:
    return Folder(row[0], os.fsdecode(row[1]), row[2], bool(row[3]))


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    # IMMEDIATE takes the write lock up front: a deferred transaction that reads first fails with
    # SQLITE_BUSY (no waiting) if another connection commits before it upgrades to a writer.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # SQLite rolls back by itself on some errors (disk full); a second ROLLBACK would mask the cause.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _in_batches(keys: Sequence[Any]) -> Iterator[tuple[list[Any], str]]:
    """``keys`` in slices that one query can bind, each with its ``?,?,…`` placeholder list for ``IN (…)``."""
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        part = list(keys[start : start + _KEYS_PER_QUERY])
        yield part, ",".join("?" * len(part))


def vectors_by_hash(
    conn: sqlite3.Connection, table: str, model_id: str, hashes: Iterable[bytes]
) -> dict[bytes, np.ndarray]:
    """``content_hash -> float32 vector`` from a ``(model_id, content_hash, vector float16)`` table.

    Hashes without a vector are absent.
    """
    found: dict[bytes, np.ndarray] = {}
    for part, marks in _in_batches(list(dict.fromkeys(hashes))):
        rows = conn.execute(
            f"SELECT content_hash, vector FROM {table} WHERE model_id = ? AND content_hash IN ({marks})",
            [model_id, *part],
        )
        for digest, blob in rows:
            found[bytes(digest)] = np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32)
    return found


class _ChangeList:
    """Which files one Store changed, in order, so a search index can catch up without reloading everything."""

    def __init__(self) -> None:
        self.sequence = 0
        self._entries: list[tuple[int, list[int]]] = []
        self._listed = 0
        self._forgotten_up_to = 0

    def add(self, file_ids: list[int]) -> None:
        if not file_ids:
            return
        self.sequence += 1
        self._entries.append((self.sequence, file_ids))
        self._listed += len(file_ids)
        if self._listed > _CHANGE_LIST_CAP:
            self.forget_all()

    def forget_all(self) -> None:
        self.sequence += 1
        self._entries.clear()
        self._listed = 0
        self._forgotten_up_to = self.sequence

    def since(self, mark: int) -> np.ndarray | None:
        if mark < self._forgotten_up_to:
            return None
        start = bisect.bisect_right(self._entries, mark, key=lambda entry: entry[0])
        return np.unique(np.fromiter((i for _, ids in self._entries[start:] for i in ids), dtype=np.int64))


def _corrupt(db_path: Path, detail: object) -> IndexCorruptError:
    return IndexCorruptError(
        f"The index {db_path} is damaged or not an xmr_desktop index ({detail}); "
        "move it aside (rename it) and xmr_desktop will build a new one."
    )


class Store:
    """One connection to the index; use it only from the thread that opened it.

    Attributes:
        path: the database file.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._changes = _ChangeList()

    @classmethod
    def open(cls, db_path: Path) -> Store:
        """Open (creating if needed) and migrate the index at ``db_path``.

        Raises IndexCorruptError for a damaged or foreign file, IndexTooNewError for a newer schema.
        """
        db_path = Path(db_path)
        db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly what we say.
            conn = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as error:
            raise XmrError(f"Cannot open the index {db_path}: {error}.") from error
        try:
            cls._configure(conn, db_path)
            cls._migrate(conn, db_path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, db_path)

    @staticmethod
    def _configure(conn: sqlite3.Connection, db_path: Path) -> None:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            check = conn.execute("PRAGMA quick_check").fetchone()
        except sqlite3.OperationalError as error:
            # Locked, unreadable, read-only medium: not corruption, and the data must not be moved aside.
            raise XmrError(f"Cannot open the index {db_path}: {error}.") from error
        except sqlite3.DatabaseError as error:
            raise _corrupt(db_path, error) from error
        if check is None or check[0] != "ok":
            log.warning("quick_check of %s failed: %s", db_path, check)
            raise _corrupt(db_path, f"quick_check: {check[0] if check else 'no answer'}")

    @staticmethod
    def _migrate(conn: sqlite3.Connection, db_path: Path) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise IndexTooNewError(
                f"The index {db_path} was written by a newer xmr_desktop (schema {version}, this version "
                f"knows up to {SCHEMA_VERSION}); update xmr_desktop or use another data directory."
            )
        while version < SCHEMA_VERSION:
            with transaction(conn):
                # Re-read under the write lock: another process may have migrated while we waited for it.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0 and conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                    raise _corrupt(db_path, "unversioned database with foreign tables")
                if version < SCHEMA_VERSION:
                    log.info("Migrating index %s to schema %d", db_path, version + 1)
                    _MIGRATIONS[version](conn)
                    version += 1
                    conn.execute(f"PRAGMA user_version={version}")

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._conn)

    # -- folders -------------------------------------------------------------------------------------------

    def add_folder(self, path: str) -> Folder:
        """Register an absolute folder path; adding it again returns the existing folder."""
        if not os.path.isabs(path):
            raise ValueError(f"folder path must be absolute: {path!r}")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO folders(path, added_at) VALUES (?, ?) ON CONFLICT(path) DO NOTHING",
                (os.fsencode(path), time.time()),
            )
        return self.folder(path)

    def remove_folder(self, path: str) -> int:
        """Forget a folder and its files; returns how many files went. Vectors stay until prune_embeddings."""
        with self._write() as conn:
            folder = self.folder(path)
            (count,) = conn.execute("SELECT COUNT(*) FROM files WHERE folder_id = ?", (folder.id,)).fetchone()
            conn.execute("DELETE FROM folders WHERE id = ?", (folder.id,))
        self._changes.forget_all()
        return count

    def folders(self) -> list[Folder]:
        rows = self._conn.execute("SELECT id, path, added_at, paused FROM folders ORDER BY path").fetchall()
        return [_folder(row) for row in rows]

    def folder(self, path: str) -> Folder:
        """The folder registered at ``path``; UnknownFolderError if there is none."""
        sql = "SELECT id, path, added_at, paused FROM folders WHERE path = ?"
        row = self._conn.execute(sql, (os.fsencode(path),)).fetchone()
        if row is None:
            raise UnknownFolderError(f"{path} is not an indexed folder.")
        return _folder(row)

    def set_folder_paused(self, path: str, paused: bool) -> None:
        with self._write() as conn:
            cursor = conn.execute("UPDATE folders SET paused = ? WHERE path = ?", (int(paused), os.fsencode(path)))
            if cursor.rowcount == 0:
                raise UnknownFolderError(f"{path} is not an indexed folder.")

    # -- scanning ------------------------------------------------------------------------------------------

    def file_stats(self, folder_id: int) -> dict[str, tuple[int, int, int]]:
        """``path -> (file_id, size, mtime_ns)`` for every file of a folder, for the scanner's diff."""
        rows = self._conn.execute("SELECT path, id, size, mtime_ns FROM files WHERE folder_id = ?", (folder_id,))
        fsdecode = os.fsdecode
        return {fsdecode(path): (file_id, size, mtime_ns) for path, file_id, size, mtime_ns in rows}

    def record_scan(
        self, folder_id: int, new_or_changed: Iterable[tuple[str, int, int]], removed_ids: Iterable[int]
    ) -> None:
        """Apply one scan in one transaction: ``(path, size, mtime_ns)`` become pending, ``removed_ids`` go.

        A path already owned by another (overlapping) folder is left to that folder.
        """
        removed = list(removed_ids)
        with self._write() as conn:
            conn.executemany(
                """INSERT INTO files(folder_id, path, size, mtime_ns) VALUES (?, ?, ?, ?)
                ON CONFLICT(path) DO UPDATE SET
                    size = excluded.size, mtime_ns = excluded.mtime_ns, state = 'pending',
                    content_hash = NULL, skip_reason = NULL, width = 0, height = 0
                WHERE files.folder_id = excluded.folder_id""",
                ((folder_id, os.fsencode(path), size, mtime_ns) for path, size, mtime_ns in new_or_changed),
            )
            conn.executemany(
                "DELETE FROM files WHERE id = ? AND folder_id = ?",
                ((file_id, folder_id) for file_id in removed),
            )
        # A changed file keeps its old vector in a search index until it is embedded again (commit_batch).
        self._changes.add(removed)

    def remove_paths(self, paths: Iterable[str]) -> int:
        """Forget these files (e.g. deleted, seen by the watcher); returns how many rows went."""
        removed: list[int] = []
        with self._write() as conn:
            for path in paths:
                removed += [row[0] for row in conn.execute("DELETE FROM files WHERE path = ? RETURNING id", (os.fsencode(path),))]
        self._changes.add(removed)
        return len(removed)

    # -- indexing ------------------------------------------------------------------------------------------

    def pending(
        self, model_id: str, folder_ids: Iterable[int] | None = None, limit: int | None = None
    ) -> list[FileRecord]:
        """Files of unpaused folders still to read, or read but without a vector for ``model_id``; by id."""
        sql = f"""SELECT {_FILE_COLUMNS} FROM files f JOIN folders d ON d.id = f.folder_id
            WHERE d.paused = 0 AND (f.state = 'pending' OR (f.state = 'ok' AND NOT EXISTS (
                SELECT 1 FROM embeddings e WHERE e.content_hash = f.content_hash AND e.model_id = ?)))"""
        params: list[object] = [model_id]
        if folder_ids is not None:
            ids = list(folder_ids)
            sql += f" AND f.folder_id IN ({','.join('?' * len(ids))})"
            params += ids
        sql += " ORDER BY f.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_record(row) for row in self._conn.execute(sql, params)]

    def known_hashes(self, model_id: str) -> set[bytes]:
        """Content hashes that already have a vector for ``model_id`` (so their files need no inference)."""
        rows = self._conn.execute("SELECT content_hash FROM embeddings WHERE model_id = ?", (model_id,))
        return {content_hash for (content_hash,) in rows}

    def commit_batch(
        self,
        model_id: str,
        embedded: Sequence[tuple[int, bytes, int, int, np.ndarray | None]],
        skipped: Sequence[tuple[int, str]],
    ) -> None:
        """Record one indexing batch atomically.

        ``embedded``: ``(file_id, content_hash, width, height, vector or None)``; ``None`` when the hash is
        already known. ``skipped``: ``(file_id, reason)``. Ids of files deleted meanwhile are ignored.
        Raises ValueError (and writes nothing) for a vector that is not 1-D, not finite in float16, or of
        another dimension than the model's existing vectors.
        """
        with self._write() as conn:
            dim = self._model_dim(model_id)
            for file_id, content_hash, width, height, vector in embedded:
                cursor = conn.execute(
                    """UPDATE files SET state = 'ok', content_hash = ?, width = ?, height = ?,
                    skip_reason = NULL WHERE id = ?""",
                    (content_hash, width, height, file_id),
                )
                if vector is None or cursor.rowcount == 0:
                    continue
                blob = _encode_vector(vector, dim)
                dim = len(blob) // VECTOR_DTYPE.itemsize
                conn.execute(
                    "INSERT OR IGNORE INTO embeddings(content_hash, model_id, vector) VALUES (?, ?, ?)",
                    (content_hash, model_id, blob),
                )
            conn.executemany(
                """UPDATE files SET state = 'skipped', skip_reason = ?, content_hash = NULL,
                width = 0, height = 0 WHERE id = ?""",
                ((reason, file_id) for file_id, reason in skipped),
            )
        self._changes.add([row[0] for row in embedded] + [file_id for file_id, _ in skipped])

    def _model_dim(self, model_id: str) -> int | None:
        sql = "SELECT length(vector) FROM embeddings WHERE model_id = ? LIMIT 1"
        row = self._conn.execute(sql, (model_id,)).fetchone()
        return None if row is None else row[0] // VECTOR_DTYPE.itemsize

    def prune_embeddings(self) -> int:
        """Delete vectors no file refers to; returns how many. Vectors of files reset to pending go too."""
        with self._write() as conn:
            cursor = conn.execute(
                """DELETE FROM embeddings WHERE content_hash NOT IN
                (SELECT content_hash FROM files WHERE content_hash IS NOT NULL)"""
            )
            return cursor.rowcount

    # -- reading -------------------------------------------------------------------------------------------

    def skipped_files(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every skipped file, sorted by path."""
        sql = "SELECT path, COALESCE(skip_reason, '') FROM files WHERE state = 'skipped' ORDER BY path"
        return [(os.fsdecode(path), reason) for path, reason in self._conn.execute(sql)]

    def counts(self, model_id: str, folder_id: int | None = None) -> FolderCounts:
        """Indexed/skipped/pending/total files for ``model_id``, over one folder or all of them."""
        sql = """SELECT COUNT(*), COALESCE(SUM(state = 'skipped'), 0), COALESCE(SUM(state = 'ok' AND EXISTS (
                SELECT 1 FROM embeddings e WHERE e.content_hash = f.content_hash AND e.model_id = ?)), 0)
            FROM files f"""
        params: tuple[object, ...] = (model_id,)
        if folder_id is not None:
            sql += " WHERE f.folder_id = ?"
            params += (folder_id,)
        total, skipped, indexed = self._conn.execute(sql, params).fetchone()
        return FolderCounts(indexed=indexed, skipped=skipped, pending=total - indexed - skipped, total=total)

    def iter_vectors(
        self, model_id: str, chunk_rows: int = 8192, *, file_ids: Iterable[int] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Indexed file ids for ``model_id`` with their float16 vectors, by file id, ``chunk_rows`` at a time.

        Every indexed file, or those of ``file_ids`` that are indexed. Yields ``(int64 ids, float16 rows)``;
        nothing per file outlives its chunk, so a million vectors load without a million Python objects or a
        float32 copy. Raises IndexCorruptError if vector lengths differ.
        """
        # CROSS JOIN pins the plan: walk files in id order and look each vector up by key, instead of
        # walking vectors and sorting the result afterwards (measured 2x slower at 100k rows).
        sql = """SELECT f.id, e.vector FROM files f
            CROSS JOIN embeddings e ON e.content_hash = f.content_hash AND e.model_id = ?
            WHERE f.state = 'ok'"""
        if file_ids is None:
            cursors: Iterable[sqlite3.Cursor] = [self._conn.execute(sql + " ORDER BY f.id", (model_id,))]
        else:
            cursors = (
                self._conn.execute(sql + f" AND f.id IN ({marks}) ORDER BY f.id", (model_id, *part))
                for part, marks in _in_batches(sorted({int(i) for i in file_ids}))
            )
        row_bytes: int | None = None
        for cursor in cursors:
            while chunk := cursor.fetchmany(chunk_rows):
                blobs = [row[1] for row in chunk]
                if row_bytes is None:
                    row_bytes = len(blobs[0])
                if not row_bytes or row_bytes % VECTOR_DTYPE.itemsize or any(len(blob) != row_bytes for blob in blobs):
                    raise _corrupt(self.path, f"vectors of model {model_id} differ in length")
                ids = np.fromiter((row[0] for row in chunk), dtype=np.int64, count=len(chunk))
                yield ids, np.frombuffer(b"".join(blobs), dtype=VECTOR_DTYPE).reshape(len(chunk), -1)

    def change_mark(self) -> int:
        """This Store's position in its own history of writes, to pass to ``changed_since`` later."""
        return self._changes.sequence

    def changed_since(self, mark: int) -> np.ndarray | None:
        """Ids of files whose searchable vector may have appeared, changed or gone since ``change_mark()`` said
        ``mark``, through this Store; None when that is no longer known (a folder was removed, or more than
        65,536 files changed): reload everything then. Other connections' writes are not listed."""
        return self._changes.since(mark)

    def records_by_ids(self, ids: Iterable[int]) -> dict[int, FileRecord]:
        """``file id -> FileRecord`` for these ids; ids without a row (deleted files) are absent."""
        found: dict[int, FileRecord] = {}
        for part, marks in _in_batches(list(dict.fromkeys(int(i) for i in ids))):
            sql = f"SELECT {_FILE_COLUMNS} FROM files f WHERE f.id IN ({marks})"
            found.update((row[0], _record(row)) for row in self._conn.execute(sql, part))
        return found

    def file_ids_under(self, folder_path: str) -> np.ndarray:
        """Ids (int64) of every file below ``folder_path``, in any state, from one range scan of the path index."""
        prefix = os.fsencode(folder_path.rstrip(os.sep) + os.sep)
        # Paths below the folder are exactly the byte strings from prefix up to prefix with its last byte (the
        # separator) raised by one: memcmp order, so "/photos2/x" (after "/photos/") stays out.
        end = prefix[:-1] + bytes([prefix[-1] + 1])
        rows = self._conn.execute("SELECT id FROM files WHERE path >= ? AND path < ?", (prefix, end))
        return np.fromiter((file_id for (file_id,) in rows), dtype=np.int64)

    def file_id_for_path(self, path: str) -> int | None:
        """The id of the file at ``path``, or None if it is not in the index."""
        row = self._conn.execute("SELECT id FROM files WHERE path = ?", (os.fsencode(path),)).fetchone()
        return None if row is None else row[0]

    def vector_for_path(self, path: str, model_id: str) -> np.ndarray | None:
        """The float32 vector of one indexed file, or None if it has none for ``model_id``."""
        row = self._conn.execute(
            """SELECT e.vector FROM files f
            JOIN embeddings e ON e.content_hash = f.content_hash AND e.model_id = ?
            WHERE f.path = ? AND f.state = 'ok'""",
            (model_id, os.fsencode(path)),
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype=VECTOR_DTYPE).astype(np.float32)

    def vectors_for_hashes(self, model_id: str, hashes: Iterable[bytes]) -> dict[bytes, np.ndarray]:
        """The float32 vectors stored for these content hashes under ``model_id`` (hashes without one are absent)."""
        return vectors_by_hash(self._conn, "embeddings", model_id, hashes)

    def integrity_ok(self) -> bool:
        """Full ``PRAGMA integrity_check`` (slow on big indexes; open() runs the quick one)."""
        try:
            row = self._conn.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.DatabaseError:
            log.exception("integrity_check of %s raised", self.path)
            return False
        return row is not None and row[0] == "ok"


def _encode_vector(vector: np.ndarray, dim: int | None) -> bytes:
    with np.errstate(over="ignore"):  # overflow becomes inf, rejected below with a clear message
        array = np.asarray(vector, dtype=VECTOR_DTYPE)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"a vector must be 1-D and non-empty, got shape {array.shape}")
    if dim is not None and array.size != dim:
        raise ValueError(f"vector has {array.size} dimensions, this model's vectors have {dim}")
    if not np.isfinite(array).all():
        raise ValueError("vector has values that are not finite in float16")
    return array.tobytes()
