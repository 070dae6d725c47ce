"""The keyword and OCR tables as one schema step of the index, for the store's migration list.

``add_text_search(conn)`` creates the keyword index, the OCR results table and the two triggers that keep them
in step with ``files`` (a deleted file's words go; a file whose content changes gets the text read from its
new content, or none yet), then indexes the names and folders of the files already in the index. It runs in
the migration's transaction and reads no photo.
"""

from __future__ import annotations

import os
import sqlite3

from xmr_desktop.ocr.jobs import create_ocr_tables, follow_content_changes
from xmr_desktop.textsearch import keyword_index


def add_text_search(conn: sqlite3.Connection) -> None:
    """Create the text-search tables and triggers and index the existing files' paths (idempotent)."""
    keyword_index.create_keyword_tables(conn)
    keyword_index.follow_file_deletes(conn)
    create_ocr_tables(conn)
    follow_content_changes(conn)
    known = {row[0] for row in conn.execute("SELECT rowid FROM keyword_fts")}
    rows = conn.execute("SELECT id, path FROM files").fetchall()
    keyword_index.index_file_paths(conn, ((file_id, os.fsdecode(path)) for file_id, path in rows if file_id not in known))
