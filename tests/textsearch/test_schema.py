"""The text-search schema step on a real index: idempotent, and it indexes the files already there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from xmr_desktop.library.store import Store
from xmr_desktop.textsearch import keyword_index as ki
from xmr_desktop.textsearch.schema import add_text_search


def test_an_existing_index_gets_its_file_names_searchable_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "index.sqlite3")
    folder = store.add_folder("/photos/Trip to Rome")
    store.record_scan(folder.id, [("/photos/Trip to Rome/passport_scan.jpg", 1, 1), ("/photos/Trip to Rome/IMG_1.jpg", 1, 1)], [])
    conn = sqlite3.connect(str(store.path), isolation_level=None)
    for _ in range(2):  # run twice: nothing doubles
        conn.execute("BEGIN IMMEDIATE")
        add_text_search(conn)
        conn.execute("COMMIT")
    assert ki.document_count(conn) == 2
    assert [hit.matches for hit in ki.search(conn, "passport")] == [(ki.KeywordMatch("name", ("passport",)),)]
    assert len(ki.search(conn, "rome")) == 2
    conn.close()
    store.close()
