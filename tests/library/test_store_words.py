"""The index's companion tables: names searchable from the scan on, metadata and words written with a batch or
not at all, and an older index migrated without reading a photo."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.library.store import Embedded, Store
from xmr_desktop.library.store import schema as schema_module
from xmr_desktop.metadata import storage
from xmr_desktop.metadata.record import PhotoMetadata
from xmr_desktop.textsearch import keyword_index

ROOT = os.path.abspath("/photos")


def _names(store: Store, query: str) -> list[str]:
    hits = keyword_index.search(store.connection, query)
    records = store.records_by_ids(hit.file_id for hit in hits)
    return [os.path.basename(records[hit.file_id].path) for hit in hits]


def test_a_scanned_photo_is_found_by_its_name_and_folder_before_it_is_embedded(tmp_path: Path) -> None:
    with Store.open(tmp_path / "index.sqlite3") as store:
        folder = store.add_folder(ROOT)
        store.record_scan(folder.id, [(os.path.join(ROOT, "Trip to Rome", "passport_scan.jpg"), 1, 1),
                                      (os.path.join(ROOT, "IMG_0001.jpg"), 1, 1)], [])
        assert store.pending("any-model") and _names(store, "passport") == ["passport_scan.jpg"]
        assert _names(store, "rome") == ["passport_scan.jpg"]
        # A changed file keeps its one row (its name did not change); a removed one takes its words along.
        store.record_scan(folder.id, [(os.path.join(ROOT, "Trip to Rome", "passport_scan.jpg"), 2, 2)], [])
        assert keyword_index.document_count(store.connection) == 2
        (gone,) = [r for r in store.pending("any-model") if r.path.endswith("passport_scan.jpg")]
        store.record_scan(folder.id, [], [gone.id])
        assert _names(store, "passport") == []


def test_what_goes_with_a_batch_is_written_in_its_transaction_or_not_at_all(tmp_path: Path) -> None:
    with Store.open(tmp_path / "index.sqlite3") as store:
        folder = store.add_folder(ROOT)
        store.record_scan(folder.id, [(os.path.join(ROOT, "a.jpg"), 1, 1)], [])
        (record,) = store.pending("m")
        entry = Embedded(record.id, 1, 1, b"h" * 16, 4, 4, np.ones(3, np.float32))
        tagged = PhotoMetadata(keywords=("lighthouse",))

        def failing(conn: sqlite3.Connection, committed: object) -> None:
            storage.write_many(conn, [(record.id, tagged, 1, 1)])
            raise RuntimeError("disk trouble halfway")

        with pytest.raises(RuntimeError):
            store.commit_batch("m", [entry], [], also=failing)
        assert [r.id for r in store.pending("m")] == [record.id]  # the vector is not there either
        assert storage.read(store.connection, [record.id]) == {}

        def tagging(conn: sqlite3.Connection, committed: object) -> None:
            assert list(committed) == [record.id]
            storage.write_many(conn, [(record.id, tagged, 1, 1)])

        store.commit_batch("m", [entry], [], also=tagging)
        assert store.pending("m") == [] and storage.read(store.connection, [record.id])[record.id].keywords == ("lighthouse",)


def test_metadata_written_later_reaches_the_change_feed(tmp_path: Path) -> None:
    # A long-lived searcher keeps filter columns in memory: a photo whose metadata the background pass reads
    # after it was embedded must show up in the feed like a new vector.
    with Store.open(tmp_path / "index.sqlite3") as store:
        folder = store.add_folder(ROOT)
        store.record_scan(folder.id, [(os.path.join(ROOT, "a.jpg"), 1, 1)], [])
        (record,) = store.pending("m")
        store.commit_batch("m", [Embedded(record.id, 1, 1, b"h" * 16, 4, 4, np.ones(3, np.float32))], [])
        mark = store.change_mark()
        with store.transaction() as conn:
            storage.write_many(conn, [(record.id, PhotoMetadata(camera="Apple iPhone 12"), 1, 1)])
        _, changed = store.changed_since(mark)
        assert changed is not None and changed.tolist() == [record.id]


def test_an_index_from_version_2_gets_the_new_tables_and_its_names_indexed_without_reading_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path = tmp_path / "index.sqlite3"
    with monkeypatch.context() as old:
        old.setattr(schema_module, "MIGRATIONS", schema_module.MIGRATIONS[:2])
        old.setattr(schema_module, "SCHEMA_VERSION", 2)
        with Store.open(db_path) as store:
            folder = store.add_folder(ROOT)
            with store.transaction() as conn:  # as version 2 scanned it: no keyword table yet
                conn.execute("INSERT INTO files(folder_id, path, size, mtime_ns) VALUES (?, ?, 1, 1)",
                             (folder.id, os.fsencode(os.path.join(ROOT, "Holidays", "passport_scan.jpg"))))
    with Store.open(db_path) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == schema_module.SCHEMA_VERSION
        assert _names(store, "passport") == ["passport_scan.jpg"] and _names(store, "holidays") == ["passport_scan.jpg"]
        assert storage.count_pending(store.connection) == 1  # its metadata is read by the background pass
