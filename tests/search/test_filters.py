"""Filters keep exactly the photos a user asked for; explicit options give clear errors."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from places_fixture import shared_gazetteer
from xmr_desktop.errors import QueryError
from xmr_desktop.library.store import Store
from xmr_desktop.metadata import storage
from xmr_desktop.metadata.record import PhotoMetadata, Place, TakenAt
from xmr_desktop.metadata.vocabulary import LibraryVocabulary
from xmr_desktop.search.filters import (
    CameraFilter,
    CityArea,
    DateFilter,
    FolderFilter,
    PlaceFilter,
    TypeFilter,
    allowed_ids,
    explicit_filters,
    local_seconds,
)

# name -> (taken, camera, (lat, lon), place, kind, format)
PHOTOS = {
    "lisbon-2023.jpg": (datetime(2023, 7, 14, 10), "Apple iPhone 12", (38.7223, -9.1393), Place("Lisbon", None, "PT", "Portugal", 2267057, "gps", "14"), "photo", "jpeg"),
    "montmartre-2023.jpg": (datetime(2023, 12, 31, 23, 30), "Apple iPhone 12", (48.8867, 2.3431), Place("Paris", None, "FR", "France", 2988507, "gps", "11"), "photo", "jpeg"),
    "paris-section.jpg": (datetime(2022, 7, 1), "FUJIFILM X-T3", (48.8700, 2.3500), Place("Paris 10 Entrepôt", None, "FR", "France", 6618616, "gps", "11"), "panorama", "jpeg"),
    "versailles.jpg": (datetime(2022, 1, 5), "FUJIFILM X-T3", (48.8049, 2.1204), Place("Versailles", None, "FR", "France", 2969679, "gps", "11"), "photo", "jpeg"),
    "sf.png": (datetime(2024, 2, 29), None, (37.77, -122.42), Place("San Francisco", "California", "US", "United States", 5391959, "gps", "CA"), "screenshot", "png"),
    "no-gps.jpg": (datetime(2024, 7, 14), "Canon EOS R5", None, None, "photo", "jpeg"),
    "fiji.jpg": (datetime(2021, 7, 14), None, (-16.5, 179.99), Place(None, None, "FJ", "Fiji", None, "gps"), "photo", "jpeg"),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tuple[sqlite3.Connection, dict[str, int], Path]:
    root = tmp_path_factory.mktemp("filters")
    store = Store.open(root / "index.sqlite3")
    photos = root / "photos"
    folder = store.add_folder(str(photos))
    store.record_scan(folder.id, [(str(photos / sub / name), 1, 1) for name in PHOTOS for sub in ["trip" if "2023" in name else "home"]], [])
    store.record_scan(folder.id, [(str(photos / "unread.jpg"), 1, 1)], [])  # no metadata row yet
    conn = sqlite3.connect(str(store.path), isolation_level=None)
    storage.create_tables(conn)
    ids = {}
    rows = []
    for name, (taken, camera, gps, place, kind, fmt) in PHOTOS.items():
        sub = "trip" if "2023" in name else "home"
        file_id = store.file_id_for_path(str(photos / sub / name))
        ids[name] = file_id
        brand = camera.split()[0] if camera else None
        meta = PhotoMetadata(
            taken=TakenAt(taken, None, "exif"), camera=camera, camera_make=brand,
            camera_model=camera.split(" ", 1)[1] if camera else None,
            latitude=gps[0] if gps else None, longitude=gps[1] if gps else None, place=place, kind=kind, file_format=fmt,  # type: ignore[arg-type]
        )
        rows.append((file_id, meta, 1, 1))
    storage.write_many(conn, rows)
    ids["unread.jpg"] = store.file_id_for_path(str(photos / "unread.jpg"))
    return conn, ids, photos


def names(index: tuple[sqlite3.Connection, dict[str, int], Path], groups: list) -> set[str]:
    conn, ids, _ = index
    allowed = allowed_ids(conn, groups)
    assert allowed is not None and allowed.dtype == np.int64 and list(allowed) == sorted(set(allowed))
    by_id = {v: k for k, v in ids.items()}
    return {by_id[int(i)] for i in allowed}


def year(y: int) -> DateFilter:
    return DateFilter(ranges=((local_seconds(datetime(y, 1, 1)), local_seconds(datetime(y + 1, 1, 1))),))


def test_no_filters_means_no_restriction(index) -> None:
    assert allowed_ids(index[0], []) is None


def test_a_year_is_the_year_on_the_clock_where_the_photo_was_taken(index) -> None:
    assert names(index, [[year(2023)]]) == {"lisbon-2023.jpg", "montmartre-2023.jpg"}  # 23:30 on 31 Dec counts


def test_alternatives_within_a_group_and_all_groups_must_hold(index) -> None:
    assert names(index, [[year(2022), year(2024)]]) == {"paris-section.jpg", "versailles.jpg", "sf.png", "no-gps.jpg"}
    assert names(index, [[year(2022), year(2024)], [CameraFilter(cameras=frozenset({"FUJIFILM X-T3"}))]]) == {
        "paris-section.jpg", "versailles.jpg"}


def test_months_and_days_of_any_year(index) -> None:
    assert names(index, [[DateFilter(months=frozenset({7}))]]) == {"lisbon-2023.jpg", "paris-section.jpg", "no-gps.jpg", "fiji.jpg"}
    assert names(index, [[DateFilter(month_day=(7, 14))]]) == {"lisbon-2023.jpg", "no-gps.jpg", "fiji.jpg"}
    assert names(index, [[DateFilter(month_day=(2, 29))]]) == {"sf.png"}


def test_a_town_is_its_id_or_a_disc_around_it(index) -> None:
    paris = CityArea(2988507, "Paris", 48.85341, 2.3488, 10.2)
    # A section of Paris and Montmartre are in Paris; Versailles, 17 km out, is not.
    assert names(index, [[PlaceFilter(cities=(paris,))]]) == {"montmartre-2023.jpg", "paris-section.jpg"}


def test_discs_across_the_antimeridian(index) -> None:
    assert names(index, [[PlaceFilter(cities=(CityArea(1, "Taveuni", -16.5, -179.99, 10.0),))]]) == {"fiji.jpg"}


def test_countries_regions_and_stored_names(index) -> None:
    assert names(index, [[PlaceFilter(countries=frozenset({"FR"}))]]) == {"montmartre-2023.jpg", "paris-section.jpg", "versailles.jpg"}
    assert names(index, [[PlaceFilter(regions=frozenset({("US", "CA")}))]]) == {"sf.png"}
    assert names(index, [[PlaceFilter(names=("versailles",))]]) == {"versailles.jpg"}


def test_cameras_kinds_formats_and_unindexed_types(index) -> None:
    assert names(index, [[CameraFilter(brands=frozenset({"Canon"}))]]) == {"no-gps.jpg"}
    assert names(index, [[CameraFilter(texts=("iphone",))]]) == {"lisbon-2023.jpg", "montmartre-2023.jpg"}
    assert names(index, [[TypeFilter(kinds=frozenset({"screenshot"}))]]) == {"sf.png"}
    assert names(index, [[TypeFilter(formats=frozenset({"png"}))]]) == {"sf.png"}
    assert names(index, [[TypeFilter(unindexed="videos")]]) == set()


def test_folders_include_files_without_metadata_unless_other_filters_apply(index) -> None:
    _, _, photos = index
    assert names(index, [[FolderFilter(str(photos / "trip"))]]) == {"lisbon-2023.jpg", "montmartre-2023.jpg"}
    assert "unread.jpg" in names(index, [[FolderFilter(str(photos))]])
    assert names(index, [[FolderFilter(str(photos))], [year(2024)]]) == {"sf.png", "no-gps.jpg"}


def test_explicit_options(index) -> None:
    conn = index[0]
    groups = explicit_filters(taken_after="2023", taken_before="2024-01", gazetteer=shared_gazetteer())
    assert names(index, groups) == {"lisbon-2023.jpg", "montmartre-2023.jpg"}
    assert names(index, explicit_filters(place="巴黎", gazetteer=shared_gazetteer())) == {"montmartre-2023.jpg", "paris-section.jpg"}
    assert names(index, explicit_filters(place="Portugal", gazetteer=shared_gazetteer())) == {"lisbon-2023.jpg"}
    assert names(index, explicit_filters(place="Versailles")) == {"versailles.jpg"}  # no gazetteer: stored names
    assert names(index, explicit_filters(camera="fuji", vocabulary=LibraryVocabulary(conn))) == {"paris-section.jpg", "versailles.jpg"}
    assert names(index, explicit_filters(camera="iPhone")) == {"lisbon-2023.jpg", "montmartre-2023.jpg"}
    assert names(index, explicit_filters(type="screenshots")) == {"sf.png"}
    assert names(index, explicit_filters(folder=str(index[2] / "home"), type="panorama")) == {"paris-section.jpg"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"taken_after": "2023-13"}, "--taken-after: '2023-13' is not a date"),
        ({"taken_before": "last year"}, "--taken-before: 'last year' is not a date"),
        ({"taken_after": "2024", "taken_before": "2023"}, "is not after"),
        ({"type": "raw"}, "--type 'raw': use one of"),
        ({"place": "  "}, "--place needs a place name"),
    ],
)
def test_bad_explicit_options_say_what_is_wrong(options: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        explicit_filters(**options)


def test_library_vocabulary_knows_what_is_there(index) -> None:
    vocabulary = LibraryVocabulary(index[0])
    assert {c.camera for c in vocabulary.cameras()} == {"Apple iPhone 12", "FUJIFILM X-T3", "Canon EOS R5"}
    assert vocabulary.has_country("PT") and not vocabulary.has_country("JP")
    assert vocabulary.has_region("US", "CA") and not vocabulary.has_region("US", "NY")
    assert vocabulary.has_city(2988507, 48.85341, 2.3488, 10.2)
    assert not vocabulary.has_city(2643743, 51.5074, -0.1278, 18.0)  # London


def test_in_memory_columns_give_the_same_ids_as_sql(index) -> None:
    from xmr_desktop.search.filter_columns import FilterColumns

    conn, ids, photos = index
    paris = CityArea(2988507, "Paris", 48.85341, 2.3488, 10.2)
    cases = [
        [[year(2023)]], [[year(2022), year(2024)], [CameraFilter(cameras=frozenset({"FUJIFILM X-T3"}))]],
        [[DateFilter(months=frozenset({7}))]], [[DateFilter(month_day=(2, 29))]], [[DateFilter(ranges=((None, None),))]],
        [[PlaceFilter(cities=(paris,))]], [[PlaceFilter(cities=(CityArea(1, "Taveuni", -16.5, -179.99, 10.0),))]],
        [[PlaceFilter(countries=frozenset({"FR"}), regions=frozenset({("US", "CA")}))]], [[PlaceFilter(names=("versailles",))]],
        [[CameraFilter(brands=frozenset({"Canon"}), texts=("iphone",))]], [[TypeFilter(kinds=frozenset({"screenshot"}))]],
        [[TypeFilter(formats=frozenset({"png"}))]], [[TypeFilter(unindexed="videos")]],
        [[FolderFilter(str(photos / "trip"))]], [[FolderFilter(str(photos))], [year(2024)]], [],
    ]
    columns = FilterColumns.load(conn)
    for groups in cases:
        expected, got = allowed_ids(conn, groups), columns.allowed_ids(groups, conn)
        assert (expected is None and got is None) or list(expected) == list(got), groups


def test_in_memory_columns_follow_changed_rows(index, tmp_path: Path) -> None:
    from xmr_desktop.search.filter_columns import FilterColumns

    conn, ids, _ = index
    columns = FilterColumns.load(conn)
    copy = sqlite3.connect(str(tmp_path / "copy.sqlite3"), isolation_level=None)
    conn.backup(copy)
    lisbon = ids["lisbon-2023.jpg"]
    copy.execute("UPDATE photo_metadata SET taken_local = ?, taken_month = 5 WHERE file_id = ?", (local_seconds(datetime(2019, 5, 1)), lisbon))
    copy.execute("DELETE FROM photo_metadata WHERE file_id = ?", (ids["sf.png"],))
    refreshed = columns.refresh(copy, [lisbon, ids["sf.png"]])
    assert len(refreshed) == len(columns) - 1
    for groups in ([[year(2019)]], [[year(2023)]], [[TypeFilter(formats=frozenset({"png"}))]]):
        assert list(refreshed.allowed_ids(groups)) == list(allowed_ids(copy, groups))


def test_the_columns_vocabulary_agrees_with_the_index(index) -> None:
    from xmr_desktop.search.filter_columns import FilterColumns

    conn = index[0]
    sql, memory = LibraryVocabulary(conn), FilterColumns.load(conn).vocabulary()
    assert sorted(sql.cameras(), key=lambda c: c.camera) == sorted(memory.cameras(), key=lambda c: c.camera)
    for code in ("PT", "FR", "US", "JP"):
        assert sql.has_country(code) == memory.has_country(code)
    assert memory.has_region("US", "CA") and not memory.has_region("US", "NY")
    assert memory.has_city(2988507, 48.85341, 2.3488, 10.2) and not memory.has_city(2643743, 51.5074, -0.1278, 18.0)
