"""The thumbnail cache on disk, bounded: least recently used thumbnails go first, a removed folder's all at once.

Qt-free. Thumbnails are files named by ``cache_key`` (path, size, mtime, resolution), two hex digits of
fan-out. A small SQLite index beside them records, per file, the photo it shows, its size and when it was last
used, so the cache can be kept under ``max_bytes`` and the thumbnails of a folder that left the index can be
deleted (``forget_under``). Files from before the index existed (or written by a process that died before
recording them) are adopted on first use with their modification time as their last use, so they age out too.
Safe to call from several threads (the decoder pool and the GUI thread).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from xmr_desktop.config import create_private_file

log = logging.getLogger(__name__)

DISK_CACHE_BYTES = 512 * 2**20  # ~25,000 thumbnails of 256 px at JPEG quality 85
INDEX_FILE = "index.sqlite3"
THUMBNAIL_SUFFIX = ".jpg"
# Evict down to this share of the budget, so a full cache does not evict on every new thumbnail.
_LOW_WATER = 0.9


class ThumbnailDisk:
    """Thumbnail files under ``directory``, at most ``max_bytes`` of them.

    Attributes:
        directory: where the thumbnail files and their index live.
        max_bytes: the budget; least recently used thumbnails are deleted beyond it.
    """

    def __init__(self, directory: Path, max_bytes: int = DISK_CACHE_BYTES) -> None:
        self.directory = directory
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._total = 0
        self._adopted = False

    def file_for(self, key: str) -> Path:
        """Where the thumbnail with this cache key is (or will be) stored."""
        return self.directory / key[:2] / f"{key}{THUMBNAIL_SUFFIX}"

    def used(self, key: str) -> None:
        """A thumbnail was read from disk: it becomes the most recently used."""
        with self._lock:
            conn = self._open()
            if conn is not None:
                conn.execute("UPDATE thumbs SET used = ? WHERE key = ?", (time.time(), key))

    def stored(self, key: str, photo_path: str, nbytes: int) -> None:
        """A thumbnail file of ``nbytes`` was written for ``photo_path``; evicts if the budget is exceeded."""
        with self._lock:
            conn = self._open()
            if conn is None:
                return
            self._adopt_strays(conn)
            previous = conn.execute("SELECT bytes FROM thumbs WHERE key = ?", (key,)).fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO thumbs(key, path, bytes, used) VALUES (?, ?, ?, ?)",
                (key, os.fsencode(photo_path), int(nbytes), time.time()),
            )
            self._total += int(nbytes) - (previous[0] if previous else 0)
            if self._total > self.max_bytes:
                self._evict(conn, int(self.max_bytes * _LOW_WATER))

    def forget_under(self, folder_path: str) -> int:
        """Delete the thumbnails of every photo at or under ``folder_path``; returns how many went."""
        prefix = os.fsencode(folder_path).rstrip(b"/\\")
        lower, upper = prefix + os.fsencode(os.sep), prefix + bytes([ord(os.sep) + 1])
        with self._lock:
            conn = self._open()
            if conn is None:
                return 0
            rows = conn.execute(
                "SELECT key, bytes FROM thumbs WHERE path = ? OR (path >= ? AND path < ?)", (prefix, lower, upper)
            ).fetchall()
            self._delete(conn, rows)
        return len(rows)

    def total_bytes(self) -> int:
        with self._lock:
            self._open()
            return self._total

    def evict(self, down_to: int | None = None) -> int:
        """Delete least recently used thumbnails until at most ``down_to`` bytes (default: the budget) remain."""
        with self._lock:
            conn = self._open()
            return 0 if conn is None else self._evict(conn, self.max_bytes if down_to is None else down_to)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- internals (called with the lock held) -----------------------------------------------------------

    def _open(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            index = self.directory / INDEX_FILE
            create_private_file(index)
            conn = sqlite3.connect(str(index), timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS thumbs("
                "key TEXT PRIMARY KEY, path BLOB, bytes INTEGER NOT NULL, used REAL NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS thumbs_used ON thumbs(used)")
            conn.execute("CREATE INDEX IF NOT EXISTS thumbs_path ON thumbs(path)")
            self._total = int(conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM thumbs").fetchone()[0])
        except (OSError, sqlite3.Error) as error:  # a read-only or full cache disk only costs speed
            log.debug("thumbnail cache index unavailable in %s: %s", self.directory, error)
            return None
        self._conn = conn
        return conn

    def _adopt_strays(self, conn: sqlite3.Connection) -> None:
        """Record thumbnail files the index does not know (older versions, crashed writers), once a session."""
        if self._adopted:
            return
        self._adopted = True
        known = {row[0] for row in conn.execute("SELECT key FROM thumbs")}
        strays = []
        try:
            with os.scandir(self.directory) as fan_out:
                for bucket in fan_out:
                    if not bucket.is_dir(follow_symlinks=False):
                        continue
                    with os.scandir(bucket.path) as files:
                        for entry in files:
                            key = entry.name.removesuffix(THUMBNAIL_SUFFIX)
                            if entry.name.endswith(THUMBNAIL_SUFFIX) and key not in known:
                                info = entry.stat(follow_symlinks=False)
                                strays.append((key, info.st_size, info.st_mtime))
        except OSError as error:
            log.debug("cannot list the thumbnail cache %s: %s", self.directory, error)
        if strays:
            conn.executemany("INSERT OR IGNORE INTO thumbs(key, path, bytes, used) VALUES (?, NULL, ?, ?)", strays)
            self._total += sum(size for _, size, _ in strays)
            log.debug("thumbnail cache: adopted %d files", len(strays))

    def _evict(self, conn: sqlite3.Connection, down_to: int) -> int:
        excess = self._total - max(0, down_to)
        if excess <= 0:
            return 0
        rows, freed = [], 0
        for key, nbytes in conn.execute("SELECT key, bytes FROM thumbs ORDER BY used"):
            rows.append((key, nbytes))
            freed += nbytes
            if freed >= excess:
                break
        self._delete(conn, rows)
        return len(rows)

    def _delete(self, conn: sqlite3.Connection, rows: list[tuple[str, int]]) -> None:
        gone = []
        for key, nbytes in rows:
            try:
                self.file_for(key).unlink()
            except FileNotFoundError:
                pass
            except OSError as error:  # kept in the index, so a later eviction tries again
                log.debug("cannot delete thumbnail %s: %s", key, error)
                continue
            self._total -= nbytes
            gone.append((key,))
        conn.executemany("DELETE FROM thumbs WHERE key = ?", gone)
