"""``Store``: one connection to the index — folders, the photo files found in them, and their vectors.

Raw ``sqlite3`` in WAL mode, one connection per ``Store`` and thread (searches read while other threads and
processes write). Paths are stored as ``os.fsencode`` bytes so names that are not valid UTF-8 round-trip; the
API speaks ``str``. Whether a file is embedded for a model is derived (an ``embeddings`` row for its hash and
that model exists), so switching models never rewrites ``files`` and identical photos share one vector.
Long writes (a first scan, removing a folder, pruning) are split into transactions of ``WRITE_CHUNK`` rows so
no writer holds the lock for seconds while a search or another process waits.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

import numpy as np

from xmr_desktop.errors import FolderOverlapError, UnknownFolderError
from xmr_desktop.library.photo_paths import is_strictly_under, normalise_folder
from xmr_desktop.library.store.changes import changed_since, current_mark, trim
from xmr_desktop.library.store.records import (
    FILE_COLUMNS,
    AddedFolder,
    CommitOutcome,
    Embedded,
    FileRecord,
    Folder,
    FolderCounts,
    Skipped,
    file_record,
    folder_record,
)
from xmr_desktop.library.store.schema import connect, snapshot, transaction
from xmr_desktop.library.store.vectors import (
    decode_vector,
    encode_vector,
    in_batches,
    iter_vectors,
    model_dim,
    vectors_by_hash,
)

log = logging.getLogger(__name__)

WRITE_CHUNK = 5_000
# Vectors nothing refers to any more are kept this long: a drive unplugged during a scan, a folder removed by
# mistake or a photo restored from the trash comes back without hours of re-embedding.
VECTOR_GRACE_S = 14 * 24 * 3600.0
_EMBEDDED_FOR_MODEL = "EXISTS (SELECT 1 FROM embeddings e WHERE e.content_hash = f.content_hash AND e.model_id = ?)"


class Store:
    """One connection to the index; use it only from the thread that opened it.

    Attributes:
        path: the database file.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, db_path: Path) -> Store:
        """Open (creating if needed) and migrate the index at ``db_path``.

        Raises IndexCorruptError for a damaged or foreign file (left untouched), IndexTooNewError for a newer
        schema (checked before SQLite parses anything), IndexBusyError / DiskFullError / XmrError otherwise.
        """
        db_path = Path(db_path)
        db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(connect(db_path), db_path)

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
        return transaction(self._conn, self.path)

    def snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read transaction: what is read inside it is one consistent state of the index."""
        return snapshot(self._conn)

    # -- folders -------------------------------------------------------------------------------------------

    def add_folder(self, path: str) -> Folder:
        """Register a folder (absolute path) and return it; see ``register_folder``."""
        return self.register_folder(path).folder

    def register_folder(self, path: str) -> AddedFolder:
        """Register a folder (absolute path). Each photo has one owning folder, so a folder inside an indexed
        one is refused (FolderOverlapError) and indexed folders inside the new one are absorbed by it.
        Registering it again returns the existing folder with ``created=False``."""
        if not os.path.isabs(path):
            raise ValueError(f"folder path must be absolute: {path!r}")
        path = normalise_folder(path)
        with self._write() as conn:
            existing = self.folders()
            same = next((f for f in existing if f.path == path), None)
            if same is not None:
                return AddedFolder(same, [], created=False)
            outer = next((f for f in existing if is_strictly_under(path, f.path)), None)
            if outer is not None:
                raise FolderOverlapError(f"{path} is already indexed as part of {outer.path}.")
            cursor = conn.execute("INSERT INTO folders(path, added_at) VALUES (?, ?)", (os.fsencode(path), time.time()))
            new_id = int(cursor.lastrowid or 0)
            absorbed = [f for f in existing if is_strictly_under(f.path, path)]
            for inner in absorbed:
                conn.execute("UPDATE files SET folder_id = ? WHERE folder_id = ?", (new_id, inner.id))
                conn.execute("DELETE FROM folders WHERE id = ?", (inner.id,))
        if absorbed:
            log.info("folder %s absorbed %s", path, ", ".join(f.path for f in absorbed))
        return AddedFolder(self.folder(path), [f.path for f in absorbed])

    def remove_folder(self, path: str) -> int:
        """Forget a folder and its files; returns how many files went. Their vectors stay for the grace period.

        Files go in chunks (each its own transaction) before the folder row, so an interrupted removal
        leaves the folder listed and removing it again finishes the job.
        """
        folder = self.folder(path)
        removed = 0
        while True:
            with self._write() as conn:
                cursor = conn.execute(
                    "DELETE FROM files WHERE id IN (SELECT id FROM files WHERE folder_id = ? LIMIT ?)",
                    (folder.id, WRITE_CHUNK),
                )
            removed += cursor.rowcount
            if cursor.rowcount < WRITE_CHUNK:
                break
        with self._write() as conn:
            conn.execute("DELETE FROM folders WHERE id = ?", (folder.id,))
        return removed

    def folders(self) -> list[Folder]:
        rows = self._conn.execute("SELECT id, path, added_at, paused FROM folders ORDER BY path").fetchall()
        return [folder_record(row) for row in rows]

    def folder(self, path: str) -> Folder:
        """The folder registered at ``path``; UnknownFolderError if there is none."""
        sql = "SELECT id, path, added_at, paused FROM folders WHERE path = ?"
        row = self._conn.execute(sql, (os.fsencode(path),)).fetchone()
        if row is None:
            raise UnknownFolderError(f"{path} is not an indexed folder.")
        return folder_record(row)

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
    ) -> int:
        """Apply a scan: ``(path, size, mtime_ns)`` become pending, ``removed_ids`` go; returns how many rows
        became pending. Written in chunks of ``WRITE_CHUNK`` rows, each its own transaction."""
        marked = 0
        found = list(new_or_changed)
        for start in range(0, len(found), WRITE_CHUNK):
            with self._write() as conn:
                cursor = conn.executemany(
                    """INSERT INTO files(folder_id, path, size, mtime_ns) VALUES (?, ?, ?, ?)
                    ON CONFLICT(path) DO UPDATE SET
                        size = excluded.size, mtime_ns = excluded.mtime_ns, state = 'pending',
                        content_hash = NULL, skip_reason = NULL, width = 0, height = 0
                    WHERE files.folder_id = excluded.folder_id""",
                    ((folder_id, os.fsencode(p), size, mtime) for p, size, mtime in found[start : start + WRITE_CHUNK]),
                )
                marked += max(cursor.rowcount, 0)
        removed = list(removed_ids)
        for start in range(0, len(removed), WRITE_CHUNK):
            with self._write() as conn:
                conn.executemany(
                    "DELETE FROM files WHERE id = ? AND folder_id = ?",
                    ((file_id, folder_id) for file_id in removed[start : start + WRITE_CHUNK]),
                )
        return marked

    def has_files(self, folder_id: int) -> bool:
        """Whether the index holds any file of this folder (an empty folder on disk then looks unplugged)."""
        return self._conn.execute("SELECT 1 FROM files WHERE folder_id = ? LIMIT 1", (folder_id,)).fetchone() is not None

    def remove_paths(self, paths: Iterable[str]) -> int:
        """Forget these files (e.g. deleted, seen by the watcher); returns how many rows went."""
        removed = 0
        wanted = [os.fsencode(p) for p in paths]
        for start in range(0, len(wanted), WRITE_CHUNK):
            with self._write() as conn:
                for path in wanted[start : start + WRITE_CHUNK]:
                    removed += conn.execute("DELETE FROM files WHERE path = ?", (path,)).rowcount
        return removed

    # -- indexing ------------------------------------------------------------------------------------------

    def _pending_sql(self, select: str, folder_ids: Iterable[int] | None, params: list[object]) -> str:
        sql = f"""SELECT {select} FROM files f JOIN folders d ON d.id = f.folder_id
            WHERE d.paused = 0 AND (f.state = 'pending' OR (f.state = 'ok' AND NOT {_EMBEDDED_FOR_MODEL}))"""
        if folder_ids is not None:
            ids = list(folder_ids)
            sql += f" AND f.folder_id IN ({','.join('?' * len(ids)) or 'NULL'})"
            params += ids
        return sql

    def pending(
        self, model_id: str, folder_ids: Iterable[int] | None = None, limit: int | None = None, *, after_id: int = 0
    ) -> list[FileRecord]:
        """Files of unpaused folders still to read, or read but without a vector for ``model_id``; by id,
        from ids above ``after_id`` (a cursor: the pipeline reads the pending set a chunk at a time)."""
        params: list[object] = [model_id]
        sql = self._pending_sql(FILE_COLUMNS, folder_ids, params) + " AND f.id > ? ORDER BY f.id"
        params.append(after_id)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [file_record(row) for row in self._conn.execute(sql, params)]

    def count_pending(self, model_id: str, folder_ids: Iterable[int] | None = None) -> int:
        params: list[object] = [model_id]
        return int(self._conn.execute(self._pending_sql("COUNT(*)", folder_ids, params), params).fetchone()[0])

    def known_hashes(self, model_id: str) -> set[bytes]:
        """Content hashes that already have a vector for ``model_id`` (so their files need no inference)."""
        rows = self._conn.execute("SELECT content_hash FROM embeddings WHERE model_id = ?", (model_id,))
        return {content_hash for (content_hash,) in rows}

    def commit_batch(self, model_id: str, embedded: Sequence[Embedded], skipped: Sequence[Skipped]) -> CommitOutcome:
        """Record one indexing batch atomically.

        A row is written only if it is still the version that was read (same size and mtime): a photo edited
        meanwhile (recorded by a scan or another process) stays pending for its new content instead of keeping
        the old hash and vector forever. Raises ValueError (and writes nothing) for a vector that is not 1-D,
        not finite in float16, or of another dimension than the model's existing vectors.
        """
        committed: list[int] = []
        stale: list[int] = []
        with self._write() as conn:
            dim = model_dim(conn, model_id)
            for entry in embedded:
                cursor = conn.execute(
                    """UPDATE files SET state = 'ok', content_hash = ?, width = ?, height = ?, skip_reason = NULL
                    WHERE id = ? AND size = ? AND mtime_ns = ?""",
                    (entry.content_hash, entry.width, entry.height, entry.file_id, entry.size, entry.mtime_ns),
                )
                if cursor.rowcount == 0:
                    stale.append(entry.file_id)
                    continue
                committed.append(entry.file_id)
                if entry.vector is None:
                    continue
                blob = encode_vector(entry.vector, dim)
                dim = len(blob) // 2
                conn.execute(
                    "INSERT OR IGNORE INTO embeddings(content_hash, model_id, vector) VALUES (?, ?, ?)",
                    (entry.content_hash, model_id, blob),
                )
            for entry in skipped:
                cursor = conn.execute(
                    """UPDATE files SET state = 'skipped', skip_reason = ?, content_hash = NULL, width = 0, height = 0
                    WHERE id = ? AND size = ? AND mtime_ns = ?""",
                    (entry.reason, entry.file_id, entry.size, entry.mtime_ns),
                )
                (committed if cursor.rowcount else stale).append(entry.file_id)
        return CommitOutcome(committed, stale)

    def prune_embeddings(self, grace_s: float = VECTOR_GRACE_S, *, now: float | None = None) -> int:
        """Delete vectors nothing has referred to for ``grace_s`` seconds; returns how many.

        A vector first found unreferenced is only marked (``orphaned_at``); one that is referenced again is
        unmarked. Runs in chunks of the table, each its own short transaction.
        """
        now = time.time() if now is None else now
        unreferenced = "content_hash NOT IN (SELECT content_hash FROM files WHERE content_hash IS NOT NULL)"
        deleted = 0
        (top,) = self._conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM embeddings").fetchone()
        for start in range(0, top + 1, WRITE_CHUNK * 4):
            span = (start, start + WRITE_CHUNK * 4)
            with self._write() as conn:
                conn.execute(
                    f"UPDATE embeddings SET orphaned_at = NULL WHERE rowid >= ? AND rowid < ? AND orphaned_at IS NOT NULL AND NOT {unreferenced}",
                    span,
                )
                # Deleted before this step marks anything: a vector is never pruned by the step that found it unused.
                deleted += conn.execute(
                    f"DELETE FROM embeddings WHERE rowid >= ? AND rowid < ? AND orphaned_at <= ? AND {unreferenced}",
                    (*span, now - grace_s),
                ).rowcount
                conn.execute(
                    f"UPDATE embeddings SET orphaned_at = ? WHERE rowid >= ? AND rowid < ? AND orphaned_at IS NULL AND {unreferenced}",
                    (now, *span),
                )
        return deleted

    # -- reading -------------------------------------------------------------------------------------------

    def skipped_files(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every skipped file, sorted by path."""
        sql = "SELECT path, COALESCE(skip_reason, '') FROM files WHERE state = 'skipped' ORDER BY path"
        return [(os.fsdecode(path), reason) for path, reason in self._conn.execute(sql)]

    def counts(self, model_id: str, folder_id: int | None = None) -> FolderCounts:
        """Indexed/skipped/pending/total files for ``model_id``, over one folder or all of them."""
        if folder_id is not None:
            return self.folder_counts(model_id, [folder_id]).get(folder_id, FolderCounts(0, 0, 0, 0))
        total = FolderCounts(0, 0, 0, 0)
        for counts in self.folder_counts(model_id).values():
            total = total + counts
        return total

    def folder_counts(self, model_id: str, folder_ids: Iterable[int] | None = None) -> dict[int, FolderCounts]:
        """``folder id -> counts`` for ``model_id`` in one pass (folders without files are absent)."""
        sql = f"""SELECT f.folder_id, COUNT(*), COALESCE(SUM(f.state = 'skipped'), 0),
                COALESCE(SUM(f.state = 'ok' AND {_EMBEDDED_FOR_MODEL}), 0)
            FROM files f"""
        params: list[object] = [model_id]
        if folder_ids is not None:
            ids = list(folder_ids)
            sql += f" WHERE f.folder_id IN ({','.join('?' * len(ids)) or 'NULL'})"
            params += ids
        found = {}
        for folder_id, total, skipped, indexed in self._conn.execute(sql + " GROUP BY f.folder_id", params):
            found[folder_id] = FolderCounts(indexed, skipped, total - indexed - skipped, total)
        return found

    def iter_vectors(
        self, model_id: str, chunk_rows: int = 8192, *, file_ids: Iterable[int] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """See ``vectors.iter_vectors``: ``(int64 ids, float16 rows)`` chunks of the indexed files, by id."""
        return iter_vectors(self._conn, self.path, model_id, chunk_rows, file_ids=file_ids)

    def change_mark(self) -> int:
        """The index's position in its change feed, to pass to ``changed_since`` later (any process)."""
        return current_mark(self._conn)

    def changed_since(self, mark: int) -> tuple[int, np.ndarray | None]:
        """``(new mark, ids)``: files whose searchable vector may have appeared, changed or gone after ``mark``,
        written by any connection or process; ids None when that is no longer known (reload everything)."""
        with self.snapshot() as conn:
            return changed_since(conn, mark)

    def trim_changes(self) -> int:
        with self._write() as conn:
            return trim(conn)

    def records_by_ids(self, ids: Iterable[int]) -> dict[int, FileRecord]:
        """``file id -> FileRecord`` for these ids; ids without a row (deleted files) are absent."""
        found: dict[int, FileRecord] = {}
        for part, marks in in_batches(list(dict.fromkeys(int(i) for i in ids))):
            sql = f"SELECT {FILE_COLUMNS} FROM files f WHERE f.id IN ({marks})"
            found.update((row[0], file_record(row)) for row in self._conn.execute(sql, part))
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
        return None if row is None else decode_vector(row[0])

    def vectors_for_hashes(self, model_id: str, hashes: Iterable[bytes]) -> dict[bytes, np.ndarray]:
        """The float32 vectors stored for these content hashes under ``model_id`` (hashes without one are absent)."""
        return vectors_by_hash(self._conn, "embeddings", model_id, hashes)

    # -- health and bookkeeping ----------------------------------------------------------------------------

    def quick_check(self) -> str:
        """``PRAGMA quick_check``'s verdict: "ok", or the first problem found (reads the whole file)."""
        try:
            row = self._conn.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as error:
            log.exception("quick_check of %s raised", self.path)
            return str(error)
        return "no answer" if row is None else str(row[0])

    def integrity_ok(self) -> bool:
        """Full ``PRAGMA integrity_check`` (slow on big indexes)."""
        try:
            row = self._conn.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.DatabaseError:
            log.exception("integrity_check of %s raised", self.path)
            return False
        return row is not None and row[0] == "ok"

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                         (key, value))
