"""The pieces put together as the searcher will: "beach 2023" ranks only 2023 photos, "在巴黎" keeps Paris only.

Index real files with the fast colour model, read their metadata in the background, read the query, turn its
filters into allowed ids and rank within them (the searcher's faiss selector takes the same mask).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from fakes import ColourEmbedder
from metadata.photo_files import exif_block, jpeg
from places_fixture import shared_gazetteer
from xmr_desktop.config import resolve_paths
from xmr_desktop.core.commands import IndexNow
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.library.store import Store
from xmr_desktop.metadata import storage
from xmr_desktop.metadata.backfill import backfill
from xmr_desktop.metadata.vocabulary import LibraryVocabulary
from xmr_desktop.search.filters import allowed_ids
from xmr_desktop.search.ranking import VectorIndex
from xmr_desktop.search.understand import QueryReader

BLUE, RED = (20, 40, 230), (230, 30, 20)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("library")
    photos = root / "photos"
    photos.mkdir()
    jpeg(photos / "beach-2023-lisbon.jpg", colour=BLUE,
         exif=exif_block(original="2023:08:01 12:00:00", gps=(38.69, -9.42), make="Apple", model="iPhone 12"))
    jpeg(photos / "beach-2022-paris.jpg", colour=BLUE,
         exif=exif_block(original="2022:06:01 12:00:00", gps=(48.8584, 2.2945), make="FUJIFILM", model="X-T3"))
    jpeg(photos / "red-2023-paris.jpg", colour=RED, exif=exif_block(original="2023:03:01 12:00:00", gps=(48.8867, 2.3431)))
    copied = jpeg(photos / "beach-copied.jpg", colour=(25, 45, 220))  # no EXIF; copied in 2023, taken who knows when
    stamp = datetime(2023, 5, 5).timestamp()
    os.utime(copied, (stamp, stamp))
    embedder = ColourEmbedder()
    paths = resolve_paths(root / "data").ensure()
    core = PhotoLibrary(paths, lambda argument, models_dir: embedder, threaded=False, decode_workers=1)
    core.call(IndexNow((str(photos),)))
    core.close()
    store = Store.open(paths.index_db)
    conn = sqlite3.connect(str(store.path), isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    storage.create_tables(conn)  # what the schema migration will do
    backfill(conn, shared_gazetteer())
    index = VectorIndex.from_chunks(store.iter_vectors(embedder.model_id))
    reader = QueryReader(vocabulary=LibraryVocabulary(conn), gazetteer=shared_gazetteer(), today=date(2025, 3, 10))
    return store, conn, embedder, index, reader


def search(library, text: str) -> list[str]:
    store, conn, embedder, index, reader = library
    query = reader.read(text)
    allowed = allowed_ids(conn, query.filters())
    mask = None if allowed is None else np.isin(index.ids, allowed)
    vector = embedder.embed_texts([query.semantic or "a photo"])[0]
    hits = index.top_k(vector, 10, allowed=mask)
    records = store.records_by_ids(i for i, _ in hits)
    return [os.path.basename(records[i].path) for i, _ in hits]


def test_beach_2023_returns_only_photos_taken_in_2023(library) -> None:
    # The copied photo's mtime says 2023, but it has no date inside: it is dated by mtime and still counts —
    # what explain() and the result's taken_at_source tell the user.
    found = search(library, "blue 2023")
    assert set(found) == {"beach-2023-lisbon.jpg", "beach-copied.jpg", "red-2023-paris.jpg"}  # not the 2022 beach
    assert found[-1] == "red-2023-paris.jpg"  # blue first: the words still rank


def test_in_paris_in_chinese_keeps_only_photos_whose_gps_is_in_paris(library) -> None:
    assert set(search(library, "在巴黎")) == {"beach-2022-paris.jpg", "red-2023-paris.jpg"}
    assert search(library, "blue in Paris")[0] == "beach-2022-paris.jpg"


def test_cameras_of_the_library_become_filters(library) -> None:
    assert search(library, "with the Fuji") == ["beach-2022-paris.jpg"]
    assert search(library, "blue iphone") == ["beach-2023-lisbon.jpg"]


def test_results_carry_their_metadata(library) -> None:
    store, conn, *_ = library
    file_id = store.file_id_for_path(str(Path(store.folders()[0].path) / "beach-2023-lisbon.jpg"))
    meta = storage.read(conn, [file_id])[file_id]
    assert meta.taken.isoformat() == "2023-08-01T12:00:00" and meta.taken.source == "exif"
    assert meta.place.label() == "Cascais, Portugal" and meta.camera == "Apple iPhone 12"
