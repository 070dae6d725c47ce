"""The change feed: which files' searchable vectors may have changed since a mark, across processes.

Triggers (schema.py) append a file id to ``changes`` in the same transaction as every change a search index
must see, whichever connection or process wrote it. A searcher remembers the sequence number it has caught up
to and later re-reads only the files listed after it. The feed is trimmed to its last ``KEEP_ROWS`` entries;
a reader whose mark was trimmed away, or with more than ``CAP`` files to catch up on, reloads everything.
"""

from __future__ import annotations

import sqlite3

import numpy as np

# Files listed by changed_since() before it gives up and says "reload everything".
CAP = 65_536
# Entries kept by trim(); older marks mean "reload".
KEEP_ROWS = 200_000


def current_mark(conn: sqlite3.Connection) -> int:
    """The newest sequence number ever written (0 for none); stays right after the feed was trimmed."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return int(row[0]) if row is not None else 0


def changed_since(conn: sqlite3.Connection, mark: int, cap: int | None = None) -> tuple[int, np.ndarray | None]:
    """``(new mark, ids)`` of files changed after ``mark``; ids None when they are no longer all known.

    Call inside a read snapshot so the mark and the ids agree.
    """
    cap = CAP if cap is None else cap
    newest = current_mark(conn)
    if newest <= mark:
        return newest, np.zeros(0, dtype=np.int64)
    oldest = conn.execute("SELECT MIN(seq) FROM changes").fetchone()[0]
    if oldest is None or oldest > mark + 1:
        return newest, None  # entries after our mark were trimmed away
    rows = conn.execute(
        "SELECT DISTINCT file_id FROM changes WHERE seq > ? AND seq <= ? LIMIT ?", (mark, newest, cap + 1)
    ).fetchall()
    if len(rows) > cap:
        return newest, None
    return newest, np.unique(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))


def trim(conn: sqlite3.Connection, keep: int | None = None) -> int:
    """Drop all but the newest ``keep`` entries (inside the caller's write transaction); returns how many."""
    keep = KEEP_ROWS if keep is None else keep
    cursor = conn.execute("DELETE FROM changes WHERE seq <= ?", (current_mark(conn) - keep,))
    return cursor.rowcount
