"""The metadata table: rows follow their files, stale rows are found, an existing index is filled in the background."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from metadata.photo_files import exif_block, iptc_block, jpeg
from places_fixture import shared_gazetteer
from xmr_desktop.library.scanner import sync_folder
from xmr_desktop.library.store import Store
from xmr_desktop.metadata import backfill as backfill_module
from xmr_desktop.metadata import reader, storage
from xmr_desktop.metadata.backfill import backfill
from xmr_desktop.metadata.record import PhotoMetadata, Place, TakenAt


def open_index(tmp_path: Path) -> tuple[Store, sqlite3.Connection]:
    """A real index with the metadata table added the way a migration step will add it."""
    store = Store.open(tmp_path / "index.sqlite3")
    conn = sqlite3.connect(str(store.path), isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    storage.create_tables(conn)
    storage.create_tables(conn)  # idempotent
    return store, conn


def scanned(tmp_path: Path, files: dict[str, Path]) -> tuple[Store, sqlite3.Connection, str]:
    store, conn = open_index(tmp_path)
    folder = store.add_folder(str(tmp_path / "photos"))
    sync_folder(store, folder)
    return store, conn, folder.path


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "photos"
    folder.mkdir()
    return {
        "lisbon": jpeg(folder / "lisbon.jpg", exif=exif_block(original="2023:07:14 10:11:12", offset="+01:00",
                                                             make="Apple", model="iPhone 12", gps=(38.7223, -9.1393))),
        "tagged": jpeg(folder / "tagged.jpg", iptc=iptc_block([(2, 25, "长城".encode()), (2, 90, b"Lisboa"), (2, 101, b"Portugal")])),
        "plain": jpeg(folder / "IMG_20190102_030405.jpg"),
    }


def test_a_row_round_trips(tmp_path: Path) -> None:
    store, conn = open_index(tmp_path)
    folder = store.add_folder(str(tmp_path))
    store.record_scan(folder.id, [(str(tmp_path / "a.jpg"), 10, 20)], [])
    file_id = store.file_id_for_path(str(tmp_path / "a.jpg"))
    meta = PhotoMetadata(
        taken=TakenAt(datetime(2023, 7, 14, 10, 11, 12), 120, "exif"), camera="Apple iPhone 12", camera_make="Apple",
        camera_model="iPhone 12", latitude=38.7, longitude=-9.1,
        place=Place("Lisbon", None, "PT", "Portugal", 2267057, "gps", "14"), keywords=("beach", "长城"), rating=3,
        width=40, height=30, file_format="jpeg", kind="panorama",
    )
    storage.write(conn, file_id, meta, size=10, mtime_ns=20)
    assert storage.read(conn, [file_id]) == {file_id: meta}


def test_pending_lists_missing_changed_and_outdated_rows(tmp_path: Path, photos: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    store, conn, _ = scanned(tmp_path, photos)
    assert storage.count_pending(conn) == 3
    report = backfill(conn, None)
    assert (report.read, report.failed) == (3, 0)
    assert storage.pending(conn) == []
    # The photo changes on disk; the next scan records its new size and mtime: its metadata is stale.
    jpeg(photos["plain"], size=(80, 60), exif=exif_block(original="2020:05:06 07:08:09"))
    sync_folder(store, store.folders()[0])
    assert [p.path for p in storage.pending(conn)] == [str(photos["plain"])]
    backfill(conn, None)
    plain_id = store.file_id_for_path(str(photos["plain"]))
    assert storage.read(conn, [plain_id])[plain_id].taken.local == datetime(2020, 5, 6, 7, 8, 9)
    # A newer reader reads everything again.
    monkeypatch.setattr(storage, "READER_VERSION", reader.READER_VERSION + 1)
    assert storage.count_pending(conn) == 3


def test_rows_go_with_their_files(tmp_path: Path, photos: dict[str, Path]) -> None:
    store, conn, folder = scanned(tmp_path, photos)
    backfill(conn, None)
    store.remove_paths([str(photos["plain"])])
    assert conn.execute("SELECT COUNT(*) FROM photo_metadata").fetchone()[0] == 2
    store.remove_folder(folder)
    assert conn.execute("SELECT COUNT(*) FROM photo_metadata").fetchone()[0] == 0


def test_a_row_for_a_file_deleted_meanwhile_is_dropped(tmp_path: Path) -> None:
    _, conn = open_index(tmp_path)
    assert storage.write_many(conn, [(12345, PhotoMetadata(), 1, 1)]) == 0


def test_backfill_resolves_places_from_gps_and_from_tags(tmp_path: Path, photos: dict[str, Path]) -> None:
    store, conn, _ = scanned(tmp_path, photos)
    backfill(conn, shared_gazetteer())
    rows = storage.read(conn, [store.file_id_for_path(str(p)) for p in photos.values()])
    by_name = {os.path.basename(store.records_by_ids([i])[i].path): meta for i, meta in rows.items()}
    lisbon = by_name["lisbon.jpg"]
    assert (lisbon.place.city, lisbon.place.country_code, lisbon.place.source) == ("Lisbon", "PT", "gps")
    assert lisbon.json_fields() == {
        "taken_at": "2023-07-14T10:11:12+01:00", "taken_at_source": "exif", "place": "Lisbon, Portugal",
        "camera": "Apple iPhone 12", "keywords": [],
    }
    tagged = by_name["tagged.jpg"]
    assert (tagged.place.country_code, tagged.place.source, tagged.keywords) == ("PT", "tags", ("长城",))
    assert by_name["IMG_20190102_030405.jpg"].taken.source == "filename"


def test_backfill_is_resumable_and_skips_unreadable_files(tmp_path: Path, photos: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    store, conn, _ = scanned(tmp_path, photos)
    monkeypatch.setattr(backfill_module, "BATCH_FILES", 1)
    batches: list[tuple[int, int]] = []
    first = backfill(conn, None, should_stop=lambda: len(batches) >= 1, progress=lambda done, total: batches.append((done, total)))
    assert first.stopped and first.read == 1 and batches == [(1, 3)]
    photos["tagged"].unlink()  # gone before the second run reads it (the next scan will sweep it)
    second = backfill(conn, None)
    assert (second.read, second.failed, second.stopped) == (1, 1, False)
    assert [p.path for p in storage.pending(conn)] == [str(photos["tagged"])]  # retried next time
