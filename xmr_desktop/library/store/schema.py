"""The index's schema: opening a database safely, migrating it step by step, and the transaction helpers.

The schema version lives in ``PRAGMA user_version``. It is read before anything makes SQLite parse the schema,
so an index written by a newer version (whose schema this SQLite may not even parse) is refused untouched
instead of being reported as damaged. Every change to a file row that search can see is recorded in
the ``changes`` table by triggers, in the same transaction, so a searcher in any process catches up by reading
only the changed rows (see ``changes.py``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from xmr_desktop.config import create_private_file
from xmr_desktop.errors import DiskFullError, IndexBusyError, IndexCorruptError, IndexTooNewError, XmrError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 5.0


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE folders (
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,
            added_at REAL NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0
        )"""
    )
    conn.execute(_FILES_TABLE.format(name="files", autoincrement=""))
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


_FILES_TABLE = """CREATE TABLE {name} (
    id INTEGER PRIMARY KEY{autoincrement},
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


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    """File ids are never reused (AUTOINCREMENT), search-visible changes are logged, one owner per photo."""
    # Rebuilt, because AUTOINCREMENT cannot be added to a table. Without it SQLite hands a deleted row's id
    # to the next insert, and a searcher that still held the old vector under that id showed the wrong photo.
    conn.execute(_FILES_TABLE.format(name="files_v2", autoincrement=" AUTOINCREMENT"))
    conn.execute("INSERT INTO files_v2 SELECT id, folder_id, path, size, mtime_ns, content_hash, state, "
                 "skip_reason, width, height FROM files")
    conn.execute("DROP TABLE files")
    conn.execute("ALTER TABLE files_v2 RENAME TO files")
    conn.execute("CREATE INDEX files_folder ON files(folder_id)")
    conn.execute("CREATE INDEX files_hash ON files(content_hash)")
    conn.execute("CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, file_id INTEGER NOT NULL)")
    # What a search index holds per file is its vector for the model's hash: a row turning 'ok', changing hash
    # or path, or going while 'ok' must be re-read. A vector stored for a hash changes every file with it.
    conn.execute(
        """CREATE TRIGGER files_change_update AFTER UPDATE OF state, content_hash, path ON files
        WHEN (old.state = 'ok' OR new.state = 'ok')
            AND (old.state IS NOT new.state OR old.content_hash IS NOT new.content_hash OR old.path IS NOT new.path)
        BEGIN INSERT INTO changes(file_id) VALUES (new.id); END"""
    )
    conn.execute(
        """CREATE TRIGGER files_change_delete AFTER DELETE ON files WHEN old.state = 'ok'
        BEGIN INSERT INTO changes(file_id) VALUES (old.id); END"""
    )
    conn.execute(
        """CREATE TRIGGER files_change_insert AFTER INSERT ON files WHEN new.state = 'ok'
        BEGIN INSERT INTO changes(file_id) VALUES (new.id); END"""
    )
    conn.execute(
        """CREATE TRIGGER embeddings_change_insert AFTER INSERT ON embeddings
        BEGIN INSERT INTO changes(file_id)
            SELECT id FROM files WHERE content_hash = new.content_hash AND state = 'ok'; END"""
    )
    # Vectors whose files went are kept for a grace period (an unplugged drive, a folder removed by mistake):
    # orphaned_at says since when nothing refers to them.
    conn.execute("ALTER TABLE embeddings ADD COLUMN orphaned_at REAL")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    _absorb_nested_folders(conn)


def _absorb_nested_folders(conn: sqlite3.Connection) -> None:
    """Older indexes allowed ~/Pictures and ~/Pictures/2023 side by side; the outer one now owns both."""
    folders = [(row[0], os.fsdecode(row[1])) for row in conn.execute("SELECT id, path FROM folders ORDER BY path")]
    for inner_id, inner in folders:
        outer = next((fid for fid, path in folders if fid != inner_id and _is_under(inner, path)), None)
        if outer is not None:
            log.info("folder %s is inside another indexed folder; its photos now belong to that one", inner)
            conn.execute("UPDATE files SET folder_id = ? WHERE folder_id = ?", (outer, inner_id))
            conn.execute("DELETE FROM folders WHERE id = ?", (inner_id,))


def _is_under(path: str, root: str) -> bool:
    return path.startswith(root.rstrip(os.sep) + os.sep)


# _MIGRATIONS[i] takes a database from version i to version i + 1; append, never edit a released step.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_to_1, _migrate_to_2]
SCHEMA_VERSION = len(MIGRATIONS)


def corrupt(db_path: Path, detail: object) -> IndexCorruptError:
    return IndexCorruptError(
        f"The index {db_path} is damaged or not an xmr_desktop index ({detail}). xmr_desktop has not changed it. "
        "Keep a copy of it, then move it aside (rename it) and xmr_desktop will build a new one."
    )


def translate(error: sqlite3.Error, db_path: Path) -> XmrError | None:
    """The user's message for SQLite errors that are about the situation, not the data; None for others."""
    text = str(error).lower()
    # Python 3.11+ gives the extended result code; its low byte is the primary one. Older: the message only.
    code = getattr(error, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in (5, 6) or "database is locked" in text or "database table is locked" in text:  # BUSY, LOCKED
        return IndexBusyError(
            f"The index {db_path} is busy: another xmr_desktop process is writing to it. Try again in a moment."
        )
    if primary == 13 or "disk is full" in text:  # SQLITE_FULL
        return DiskFullError(
            f"The disk holding the index {db_path} is full; nothing was written. Free some space and try again."
        )
    if "readonly" in text or "read-only" in text:
        return XmrError(f"The index {db_path} cannot be written (read-only file or disk).")
    return None


@contextmanager
def transaction(conn: sqlite3.Connection, db_path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A write transaction; "database is locked" and "disk full" become one-line typed errors."""
    try:
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
    except sqlite3.OperationalError as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        translated = translate(error, db_path or Path("index"))
        if translated is None:
            raise
        raise translated from error


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every statement inside sees the database as of its first read (WAL snapshot)."""
    if conn.in_transaction:  # already inside one (nested use): share it
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def too_new(db_path: Path, version: int) -> IndexTooNewError:
    return IndexTooNewError(
        f"The index {db_path} was written by a newer xmr_desktop (schema {version}, this version "
        f"knows up to {SCHEMA_VERSION}); it was left untouched. Update xmr_desktop or use another data directory."
    )


def connect(db_path: Path) -> sqlite3.Connection:
    """Open, configure and migrate the index at ``db_path`` (created if missing).

    The file is never opened by anything but SQLite: closing any other descriptor of it would drop the POSIX
    locks SQLite holds through this process's other connections, and that corrupts databases.
    """
    try:
        # A new index starts 0600, and SQLite gives its -wal and -shm files the same mode. (Creating it here is
        # safe: nothing in this process can hold locks on a file that did not exist.)
        create_private_file(db_path)
    except OSError as error:
        raise XmrError(f"Cannot create the index {db_path}: {error.strerror or error}.") from error
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly what we say.
        conn = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True)
    except sqlite3.Error as error:
        raise XmrError(f"Cannot open the index {db_path}: {error}.") from error
    try:
        _configure(conn, db_path)
        _migrate(conn, db_path)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, db_path: Path) -> None:
    try:
        # First of all, and readable even when this SQLite cannot parse a newer version's schema: an index
        # written by a newer xmr_desktop is refused untouched, not reported as damaged.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise too_new(db_path, version)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Reading the schema is where a damaged file shows itself cheaply; the full check runs in the background.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        translated = translate(error, db_path)
        if translated is not None:
            raise translated from error
        # Locked, unreadable, read-only medium: not corruption, and the data must not be moved aside.
        raise XmrError(f"Cannot open the index {db_path}: {error}.") from error
    except sqlite3.DatabaseError as error:
        raise corrupt(db_path, error) from error


def _migrate(conn: sqlite3.Connection, db_path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    while version < SCHEMA_VERSION:
        with transaction(conn, db_path):
            # Re-read under the write lock: another process may have migrated while we waited for it.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise too_new(db_path, version)
            if version == 0 and conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                raise corrupt(db_path, "unversioned database with foreign tables")
            if version < SCHEMA_VERSION:
                log.info("Migrating index %s to schema %d", db_path, version + 1)
                MIGRATIONS[version](conn)
                version += 1
                conn.execute(f"PRAGMA user_version={version}")
